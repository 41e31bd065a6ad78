"""Registries: kind -> name -> Component.

A component is a name, a factory, an attrs class describing its options, and the
distribution it came from. Recipes name components (`name = "unet"`); the rest of
the recipe section is structured into the options class, and the factory receives
that options instance plus what the task decides (channels, split, ...).

Factory signatures, per kind (the contracts everything meets at):

- ``backbone``: ``factory(options, *, in_channels, out_channels) -> nn.Module`` whose
  ``forward(x, t)`` takes x [B, C_in, H, W] and float timesteps t [B].
- ``dataset``: ``factory(options, *, split, seed) -> Sequence`` of samples (dicts of
  float tensors in [0, 1]: ``frames`` [N, C, H, W] for clips, ``image`` [C, H, W]).
- ``loss``: ``factory(options) -> callable``; see the task for the call signature.
- ``metric``: ``factory(options) -> dvcore.metrics.Metric``.
- ``tracker``: ``factory(options, *, run) -> dvcore.track.Tracker``.
- ``schedule`` / ``sampler``: see ``dvcore.diffusion``.
- ``task``: ``factory(options) -> dvcore.tasks.Task``.
- ``baseline``: ``factory(options) -> predict(context) -> frame``, a non-learned interpolator:
  context frames (B, N-1, C, H, W) in [0, 1], middle frame withheld -> that frame (B, C, H, W).
- ``exporter``: ``factory(options) -> dvcore.export.Exporter`` (``dvcore export --format NAME``).

Options classes may define ``problems(self) -> Iterable[tuple[str, str]]`` for checks
that span several fields; each (field path, message) becomes one line of the recipe
error report.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

import attrs

KINDS = (
    "backbone",
    "schedule",
    "sampler",
    "loss",
    "dataset",
    "metric",
    "tracker",
    "task",
    "baseline",
    "exporter",
)
QUALIFIER = ":"  # "<distribution>:<name>" picks one of the components that share a name


@attrs.frozen
class NoOptions:
    """A component that takes no options."""


@attrs.frozen
class Component:
    """One registered component."""

    kind: str
    name: str
    factory: Callable[..., Any]
    options: type = NoOptions
    doc: str = ""
    origin: str = "?"  # distribution name that registered it
    version: str = "?"

    @property
    def qualified_name(self) -> str:
        """``"<distribution>:<name>"``, the name that stays unique when distributions clash."""
        return f"{self.origin}{QUALIFIER}{self.name}"

    def build(self, options: Any = None, **context: Any) -> Any:
        """Call the factory with `options` (defaults when None) and the task's context."""
        return self.factory(self.options() if options is None else options, **context)


class DuplicateComponentError(Exception):
    """One distribution registered the same kind + name twice."""


class UnknownComponentError(KeyError):
    def __init__(self, kind: str, name: str, choices: list[str]):
        self.kind, self.name, self.choices = kind, name, choices
        super().__init__(name)

    def __str__(self) -> str:
        return unknown_name_message(self.kind, self.name, self.choices)


class AmbiguousComponentError(KeyError):
    """A bare name that several distributions register; the recipe must say whose."""

    def __init__(self, kind: str, name: str, owners: list[Component]):
        self.kind, self.name, self.owners = kind, name, owners
        super().__init__(name)

    def __str__(self) -> str:
        return f"{clash_message(self.kind, self.name, self.owners)}; write {_qualified_choices(self.owners)}"


def unknown_name_message(kind: str, name: object, choices: list[str]) -> str:
    msg = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    return msg + f"; valid choices: {', '.join(sorted(choices)) or '(none registered)'}"


def clash_message(kind: str, name: str, owners: list[Component]) -> str:
    """``backbone 'unet' is registered by both dvcore-unet 0.1.0 and other 1.0``."""
    who = " and ".join(f"{c.origin} {c.version}" for c in owners)
    return f"{kind} {name!r} is registered by {'both ' if len(owners) == 2 else ''}{who}"


def _qualified_choices(owners: list[Component]) -> str:
    return " or ".join(repr(c.qualified_name) for c in owners)


def split_name(name: str) -> tuple[str | None, str]:
    """``"dvcore-unet:unet"`` -> ("dvcore-unet", "unet"); a bare ``"unet"`` -> (None, "unet")."""
    origin, sep, bare = name.rpartition(QUALIFIER)
    return (origin, bare) if sep else (None, name)


class Registry:
    """All components, by kind then name; a name two distributions register is kept for both.

    Such a clash withdraws only the bare name: ``get(kind, "unet")`` then raises
    ``AmbiguousComponentError`` naming both distributions, and each component stays
    reachable by its qualified name ``"<distribution>:<name>"`` (e.g. ``"dvcore-unet:unet"``).
    Which distribution loaded first never decides.
    """

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, list[Component]]] = {k: {} for k in KINDS}

    def add(self, component: Component) -> None:
        if component.kind not in self._by_kind:
            raise ValueError(f"unknown component kind {component.kind!r}; kinds are {', '.join(KINDS)}")
        if QUALIFIER in component.name:
            raise ValueError(
                f"{component.kind} name {component.name!r}: {QUALIFIER!r} is reserved for origins"
            )
        owners = self._by_kind[component.kind].setdefault(component.name, [])
        if any(c.origin == component.origin for c in owners):
            raise DuplicateComponentError(
                f"{component.kind} {component.name!r} is registered twice by {component.origin} "
                f"{component.version}"
            )
        owners.append(component)
        owners.sort(key=lambda c: c.origin)  # the order of loading never shows

    def remove(self, component: Component) -> None:
        owners = self._by_kind[component.kind].get(component.name, [])
        if component in owners:
            owners.remove(component)
        if not owners:
            self._by_kind[component.kind].pop(component.name, None)

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` (bare, or qualified ``"<distribution>:<name>"``) of ``kind``."""
        origin, bare = split_name(name)
        owners = self._by_kind[kind].get(bare, [])
        if origin is not None:
            owners = [c for c in owners if c.origin == origin]
        if not owners:
            raise UnknownComponentError(kind, name, self.names(kind))
        if len(owners) > 1:
            raise AmbiguousComponentError(kind, bare, owners)
        return owners[0]

    def names(self, kind: str) -> list[str]:
        """The names a recipe can use: bare where one distribution has it, qualified where several do."""
        out = []
        for name, owners in self._by_kind[kind].items():
            out += [name] if len(owners) == 1 else [c.qualified_name for c in owners]
        return sorted(out)

    def clashes(self) -> list[list[Component]]:
        """The components of every name that several distributions register."""
        return [
            owners for kind in KINDS for _, owners in sorted(self._by_kind[kind].items()) if len(owners) > 1
        ]

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        try:
            self.get(kind, name)
        except (KeyError, UnknownComponentError, AmbiguousComponentError):
            return False
        return True

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            for name in sorted(self._by_kind[kind]):
                yield from self._by_kind[kind][name]


class Registrar:
    """What a plugin's `dvcore_register_components` hook receives.

    Every component added through it carries the plugin's distribution and version,
    so `dvcore plugins` and duplicate-name errors can say who registered what.
    """

    def __init__(self, registry: Registry, origin: str, version: str):
        self._registry, self.origin, self.version = registry, origin, version
        self.added: list[Component] = []

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        options: type = NoOptions,
        doc: str | None = None,
    ) -> None:
        if not attrs.has(options):
            raise TypeError(f"options of {kind} {name!r} must be an attrs class, got {options!r}")
        doc = doc if doc is not None else (factory.__doc__ or "").strip().split("\n")[0]
        component = Component(kind, name, factory, options, doc, self.origin, self.version)
        self._registry.add(component)
        self.added.append(component)
