"""Registers the ``unetpp`` backbone with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_unetpp.model import build_unetpp
from dvcore_unetpp.options import UNetPPOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unetpp", build_unetpp, UNetPPOptions)
