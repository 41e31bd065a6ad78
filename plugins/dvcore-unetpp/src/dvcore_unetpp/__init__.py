"""dvcore-unetpp: UNet++ (Zhou et al. 2018) adapted to diffusion, as the dvcore backbone ``unetpp``."""

from dvcore_unetpp.model import UNetPP
from dvcore_unetpp.options import UNetPPOptions
from dvcore_unetpp.plugin import build_unetpp

__all__ = ["UNetPP", "UNetPPOptions", "build_unetpp"]
