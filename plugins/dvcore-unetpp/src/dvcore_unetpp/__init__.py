"""dvcore-unetpp: UNet++ (Zhou et al. 2018) adapted to diffusion, as the dvcore backbone ``unetpp``."""

from dvcore_unetpp.model import UNetPP, build_unetpp
from dvcore_unetpp.options import UNetPPOptions

__all__ = ["UNetPP", "UNetPPOptions", "build_unetpp"]
