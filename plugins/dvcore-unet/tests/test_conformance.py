"""The unet backbone passes dvcore's conformance kit, through its registration."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component
from dvcore_unet.options import UNetOptions

SMALL = UNetOptions(
    base_channels=16, channel_mult=[1, 2], attention_factors=[2], norm_groups=8, num_res_blocks=1
)


@pytest.mark.parametrize(("in_channels", "out_channels"), [(12, 3), (3, 3)], ids=["interpolate", "generate"])
def test_unet_passes_the_kit(in_channels: int, out_channels: int):
    check_component("backbone", "unet", SMALL, in_channels=in_channels, out_channels=out_channels)
