"""Registers the ``unetpp`` backbone with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_unetpp.model import UNetPP
from dvcore_unetpp.options import UNetPPOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


def build_unetpp(options: UNetPPOptions, *, in_channels: int, out_channels: int) -> UNetPP:
    """UNet++ (nested dense skips) with time-conditioned nodes, for diffusion or regression."""
    return UNetPP(options, in_channels=in_channels, out_channels=out_channels)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unetpp", build_unetpp, UNetPPOptions)
