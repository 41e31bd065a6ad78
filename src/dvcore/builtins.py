"""The core's own components, registered through the same hook as any plugin."""

from __future__ import annotations

from dvcore.hookspecs import hookimpl
from dvcore.registry import Registrar


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    pass
