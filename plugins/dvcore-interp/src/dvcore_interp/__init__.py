"""dvcore plugin: the patch interpolator of the seed notes (backbone ``patch_interpolator``)."""

from dvcore_interp.options import PRESETS, PatchInterpolatorOptions
from dvcore_interp.patch_interpolator import PatchInterpolator
from dvcore_interp.plugin import build_patch_interpolator

__all__ = ["PRESETS", "PatchInterpolator", "PatchInterpolatorOptions", "build_patch_interpolator"]
