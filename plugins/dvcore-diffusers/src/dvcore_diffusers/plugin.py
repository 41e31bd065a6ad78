"""Registers the ``diffusers_unet2d`` and ``diffusers_dit`` backbones and the ``diffusers`` exporter."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_diffusers.backbones import build_dit, build_unet2d
from dvcore_diffusers.export import DiffusersExportOptions, build_diffusers_exporter
from dvcore_diffusers.options import DiTOptions, UNet2DOptions

DVCORE_PLUGIN_API = "1"


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "diffusers_unet2d", build_unet2d, UNet2DOptions)
    registrar.add("backbone", "diffusers_dit", build_dit, DiTOptions)
    registrar.add("exporter", "diffusers", build_diffusers_exporter, DiffusersExportOptions)
