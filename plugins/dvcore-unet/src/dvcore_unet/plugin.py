"""Registers the ``unet`` backbone with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_unet.model import build_unet
from dvcore_unet.options import UNetOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unet", build_unet, UNetOptions)
