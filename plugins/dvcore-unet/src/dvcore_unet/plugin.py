"""Registers the ``unet`` backbone with dvcore."""

from __future__ import annotations

from dvcore import hookimpl
from dvcore.registry import Registrar
from dvcore_unet.model import build_unet
from dvcore_unet.options import UNetOptions


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "unet", build_unet, UNetOptions)
