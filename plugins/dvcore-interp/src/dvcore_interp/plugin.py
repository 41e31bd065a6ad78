"""Registers the patch interpolator with dvcore (entry point ``interp`` of group ``dvcore``)."""

from __future__ import annotations

from dvcore import hookimpl
from dvcore.registry import Registrar
from dvcore_interp.patch_interpolator import PatchInterpolatorOptions, build_patch_interpolator


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "patch_interpolator", build_patch_interpolator, PatchInterpolatorOptions)
