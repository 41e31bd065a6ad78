"""Registers the ``unetpp`` backbone with dvcore."""

from __future__ import annotations

from dvcore import hookimpl
from dvcore.registry import Registrar
from dvcore_unetpp.model import build_unetpp
from dvcore_unetpp.options import UNetPPOptions


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unetpp", build_unetpp, UNetPPOptions)
