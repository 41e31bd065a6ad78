"""Registers the ``unet`` backbone with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_unet.model import UNet
from dvcore_unet.options import UNetOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


def build_unet(options: UNetOptions, *, in_channels: int, out_channels: int) -> UNet:
    """DDPM UNet with the lab notes' level schema (explicit or compact)."""
    return UNet(options, in_channels=in_channels, out_channels=out_channels)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unet", build_unet, UNetOptions)
