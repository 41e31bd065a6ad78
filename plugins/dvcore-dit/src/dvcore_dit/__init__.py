"""dvcore-dit: the diffusion transformer (DiT, Peebles & Xie 2023) as the dvcore backbone ``dit``."""

from dvcore_dit.model import DIT_SIZES, DiT
from dvcore_dit.options import DitOptions
from dvcore_dit.plugin import build_dit

__all__ = ["DIT_SIZES", "DiT", "DitOptions", "build_dit"]
