"""The hooks through which plugins talk to dvcore.

Every hook is declared here once. A plugin is a module (found through the
``dvcore`` entry-point group) whose functions carry ``@dvcore.hookimpl`` and the
name of a hook below. The core's own components use the very same path: the
``builtins`` entry point of the ``dvcore`` distribution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from dvcore.registry import Registrar

PROJECT = "dvcore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dvcore_register_components(registrar: Registrar) -> None:
    """Register this plugin's components.

    Called once per plugin when the plugin manager is first built, with a
    ``Registrar`` bound to the plugin's distribution name and version. Call
    ``registrar.add(kind, name, factory, options, doc=...)`` for each component;
    kinds are listed in ``dvcore.registry.KINDS``. Returns nothing.

    A name already registered (by this or another distribution) raises an error
    naming both distributions. If this hook raises, everything it registered is
    withdrawn and the failure is reported with the plugin's distribution; the
    other plugins still load (unless ``DVCORE_STRICT_PLUGINS=1``).
    """
