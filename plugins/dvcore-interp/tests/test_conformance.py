"""The patch interpolator passes dvcore's conformance kit, through its registration."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component
from dvcore_interp.options import PatchInterpolatorOptions

SMALL = {"d_model": 16, "depth": 1, "heads": 2, "src_field": 8, "tgt_field": 4}


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"tokens": "quantized", "quant_levels": 4, "head": "conv", "pos_embed": "sincos"},
        {"token_patch": 2, "residual": True},
        {"residual": True, "prior": "flow", "warped_inputs": True, "scales": 2},
        {"scales": 3, "shared_scales": True, "head": "conv"},
    ],
    ids=[
        "linear",
        "quantized-conv-head",
        "sub-patches-residual",
        "flow-prior-two-scales",
        "three-shared-scales",
    ],
)
def test_patch_interpolator_passes_the_kit(variant: dict):
    check_component("backbone", "patch_interpolator", PatchInterpolatorOptions(**SMALL, **variant))
