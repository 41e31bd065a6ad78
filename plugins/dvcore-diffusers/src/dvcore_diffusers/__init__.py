"""dvcore-diffusers: diffusers' UNet2DModel and DiTTransformer2DModel as dvcore backbones, and export of
dvcore runs to directories diffusers' pipelines load."""

from dvcore_diffusers.backbones import DiffusersBackbone, DiffusersDiT, DiffusersUNet2D
from dvcore_diffusers.options import DiTOptions, UNet2DOptions

__all__ = ["DiTOptions", "DiffusersBackbone", "DiffusersDiT", "DiffusersUNet2D", "UNet2DOptions"]
