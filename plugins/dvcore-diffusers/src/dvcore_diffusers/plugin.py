"""Registers the ``diffusers_unet2d`` and ``diffusers_dit`` backbones and the ``diffusers`` exporter.

diffusers is imported when a component is built, not when dvcore loads its plugins: importing it
costs seconds, which every `dvcore` command would otherwise pay.
"""

from __future__ import annotations

from typing import Any

from dvcore.api import Registrar, hookimpl
from dvcore_diffusers.options import DiffusersExportOptions, DiTOptions, UNet2DOptions

DVCORE_PLUGIN_API = "1"


def build_unet2d(options: UNet2DOptions, *, in_channels: int, out_channels: int) -> Any:
    """diffusers' UNet2DModel (the DDPM / train_unconditional UNet); config keys as options."""
    from dvcore_diffusers.backbones import build_unet2d as build

    return build(options, in_channels=in_channels, out_channels=out_channels)


def build_dit(options: DiTOptions, *, in_channels: int, out_channels: int) -> Any:
    """diffusers' DiTTransformer2DModel, unconditional; config keys as options."""
    from dvcore_diffusers.backbones import build_dit as build

    return build(options, in_channels=in_channels, out_channels=out_channels)


def build_diffusers_exporter(options: DiffusersExportOptions) -> Any:
    """diffusers pipeline directory (DDIMPipeline / DDPMPipeline; DiT: transformer + scheduler)."""
    from dvcore_diffusers.export import DiffusersExporter

    return DiffusersExporter()


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "diffusers_unet2d", build_unet2d, UNet2DOptions)
    registrar.add("backbone", "diffusers_dit", build_dit, DiTOptions)
    registrar.add("exporter", "diffusers", build_diffusers_exporter, DiffusersExportOptions)
