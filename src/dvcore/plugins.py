"""The plugin manager: finds plugins through the ``dvcore`` entry-point group.

Loading is isolated per plugin, as conda does it: a plugin that fails to import, that
targets another plugin API than this dvcore serves (``DVCORE_PLUGIN_API`` in its
entry-point module), or whose registration hook raises, is a ``PluginFailure`` naming
its distribution and the reason; its components are withdrawn and the rest still load.
A name that two distributions register is a clash, not a failure: both components stay,
reachable by their qualified names (``"dvcore-unet:unet"``), and only the bare name is
withdrawn (see ``dvcore.registry.Registry``).

``load()`` reports nothing itself; ``plugins()``, the process-wide instance the CLI uses,
prints each failure and clash once, on stderr. ``DVCORE_STRICT_PLUGINS=1`` turns failures
into a ``PluginLoadError`` (the CLI: exit 2, one line per failure).
"""

from __future__ import annotations

import functools
import os
import sys
from importlib import metadata
from types import ModuleType
from typing import cast

import attrs
import pluggy

from dvcore import hookspecs
from dvcore.registry import Registrar, Registry, clash_message

ENTRY_POINT_GROUP = "dvcore"
STRICT_ENV = "DVCORE_STRICT_PLUGINS"
API_ATTRIBUTE = "DVCORE_PLUGIN_API"  # in a plugin's entry-point module: the plugin API it targets


@attrs.frozen
class PluginFailure:
    """A plugin that did not load, and why."""

    distribution: str
    version: str
    entry_point: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.distribution} {self.version} ({self.entry_point}) failed to load: {self.error}"


class PluginLoadError(RuntimeError):
    """Raised instead of a warning when DVCORE_STRICT_PLUGINS=1; ``failures`` says which."""

    def __init__(self, failures: list[PluginFailure]):
        self.failures = failures
        super().__init__("; ".join(str(f) for f in failures))


@attrs.define
class Plugins:
    """The outcome of loading: the manager, the registry, and what failed."""

    manager: pluggy.PluginManager
    registry: Registry
    failures: list[PluginFailure]
    distributions: dict[str, str]  # distribution -> version, of the plugins that loaded

    def warnings(self) -> list[str]:
        """One line per failed plugin and per name clash."""
        lines = [f"dvcore: warning: {failure}" for failure in self.failures]
        for owners in self.registry.clashes():
            kind, name = owners[0].kind, owners[0].name
            choices = " or ".join(repr(c.qualified_name) for c in owners)
            lines.append(
                f"dvcore: warning: {clash_message(kind, name, owners)}; a recipe must write {choices}"
            )
        return lines


def _entry_points() -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    seen: set[tuple[str, str]] = set()
    unique = []
    for ep in eps:
        key = (ep.dist.name if ep.dist else "?", ep.name)
        if key not in seen:  # the same dist can be visible twice on sys.path
            seen.add(key)
            unique.append(ep)
    # The core's built-ins first, then plugins in a stable order.
    return sorted(unique, key=lambda ep: (ep.dist.name != "dvcore" if ep.dist else True, _dist(ep), ep.name))


def _dist(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist else "?"


def _version(ep: metadata.EntryPoint) -> str:
    return ep.dist.version if ep.dist else "?"


def load(strict: bool | None = None, extra_plugins: dict[str, ModuleType] | None = None) -> Plugins:
    """Build a fresh plugin manager and registry from the installed entry points.

    ``extra_plugins`` maps a label to an already-imported module (used by tests and
    by scripts that define components inline).
    """
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "") not in ("", "0", "false", "False")
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    failures: list[PluginFailure] = []
    loaded: dict[str, str] = {}

    candidates: list[tuple[str, str, str, object]] = []  # (dist, version, ep name, module or ep)
    for ep in _entry_points():
        candidates.append((_dist(ep), _version(ep), ep.name, ep))
    for label, extra in (extra_plugins or {}).items():
        candidates.append((label, "local", label, extra))

    for dist, version, ep_name, target in candidates:
        try:
            obj = target.load() if isinstance(target, metadata.EntryPoint) else target
            module = cast(ModuleType, obj)  # usually a module; pluggy takes any object with hooks
            incompatible = api_mismatch(module)
            if incompatible:
                failures.append(PluginFailure(dist, version, ep_name, incompatible))
                continue
            manager.register(module, name=f"{dist}:{ep_name}")
        except Exception as exc:  # a broken plugin must not take down the others
            failures.append(PluginFailure(dist, version, ep_name, f"{type(exc).__name__}: {exc}"))
            continue
        registrar = Registrar(registry, dist, version)
        impls = [i for i in manager.hook.dvcore_register_components.get_hookimpls() if i.plugin is module]
        try:
            for impl in impls:
                impl.function(**{name: registrar for name in impl.argnames if name == "registrar"})
        except Exception as exc:
            for component in registrar.added:
                registry.remove(component)
            manager.unregister(module)
            failures.append(PluginFailure(dist, version, ep_name, f"{type(exc).__name__}: {exc}"))
            continue
        loaded[dist] = version

    if failures and strict:
        raise PluginLoadError(failures)
    return Plugins(manager, registry, failures, loaded)


def api_mismatch(module: ModuleType) -> str | None:
    """Why ``module`` cannot serve this dvcore's plugin API, or None when it can (or does not say).

    A plugin states the API it targets as ``DVCORE_PLUGIN_API = "1"`` (or several, as a
    tuple) in its entry-point module; ``dvcore.api.PLUGIN_API_VERSION`` is the one served.
    """
    from dvcore import __version__
    from dvcore.api import PLUGIN_API_VERSION

    wanted = getattr(module, API_ATTRIBUTE, None)
    if wanted is None:
        return None
    versions = [str(v) for v in (wanted if isinstance(wanted, list | tuple | set) else [wanted])]
    if PLUGIN_API_VERSION in versions:
        return None
    return (
        f"incompatible: it targets dvcore plugin API {' or '.join(versions)}, "
        f"but the installed dvcore {__version__} serves plugin API {PLUGIN_API_VERSION}"
    )


@functools.cache
def plugins() -> Plugins:
    """The process-wide plugins, loaded on first use; failures and clashes are printed once, on stderr."""
    loaded = load()
    for line in loaded.warnings():
        print(line, file=sys.stderr)
    return loaded


def registry() -> Registry:
    return plugins().registry
