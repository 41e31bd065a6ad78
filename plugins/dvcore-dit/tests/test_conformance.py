"""The dit backbone passes dvcore's conformance kit, through its registration."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component
from dvcore_dit.options import DitOptions


@pytest.mark.parametrize("learn_sigma", [False, True])
def test_dit_passes_the_kit(learn_sigma: bool):
    options = DitOptions(
        size="custom", hidden_size=32, depth=2, num_heads=2, patch=4, learn_sigma=learn_sigma
    )
    check_component("backbone", "dit", options, in_channels=12, out_channels=3)
