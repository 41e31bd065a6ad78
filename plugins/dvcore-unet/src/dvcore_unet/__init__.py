"""dvcore-unet: the lab notes' DDPM UNet as the dvcore backbone ``unet``."""

from dvcore_unet.model import UNet, build_unet
from dvcore_unet.options import NOTES_256_SCHEMA, UNetOptions, expand_compact

__all__ = ["NOTES_256_SCHEMA", "UNet", "UNetOptions", "build_unet", "expand_compact"]
