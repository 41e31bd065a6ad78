"""Registers the ``patch_interpolator`` backbone with dvcore (entry point ``interp`` of group ``dvcore``)."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_interp.multiscale import MultiScaleInterpolator
from dvcore_interp.options import PatchInterpolatorOptions
from dvcore_interp.patch_interpolator import PatchInterpolator

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


def build_patch_interpolator(
    options: PatchInterpolatorOptions, *, in_channels: int, out_channels: int
) -> PatchInterpolator | MultiScaleInterpolator:
    """Patch interpolator (docs/lab_notes.md §I): overlapping windows of pixel tokens, a transformer,
    stitched blocks."""
    if options.scales > 1:
        return MultiScaleInterpolator(options, in_channels=in_channels, out_channels=out_channels)
    return PatchInterpolator(options, in_channels=in_channels, out_channels=out_channels)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "patch_interpolator", build_patch_interpolator, PatchInterpolatorOptions)
