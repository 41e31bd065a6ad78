"""dvcore-diffusers: diffusers' UNet2DModel and DiTTransformer2DModel as dvcore backbones, and export of
dvcore runs to directories diffusers' pipelines load (``dvcore_diffusers.backbones``, ``.export``; they
import diffusers, so this package does not import them itself)."""

from dvcore_diffusers.options import DiffusersExportOptions, DiTOptions, UNet2DOptions

__all__ = ["DiTOptions", "DiffusersExportOptions", "UNet2DOptions"]
