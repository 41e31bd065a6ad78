"""The unetpp backbone passes dvcore's conformance kit, through its registration."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component
from dvcore_unetpp.options import UNetPPOptions

SMALL = UNetPPOptions(depth=2, channels=[16, 32, 32], attn=[False, False, True], norm_groups=8)


@pytest.mark.parametrize(("in_channels", "out_channels"), [(12, 3), (3, 3)], ids=["interpolate", "generate"])
def test_unetpp_passes_the_kit(in_channels: int, out_channels: int):
    check_component("backbone", "unetpp", SMALL, in_channels=in_channels, out_channels=out_channels)
