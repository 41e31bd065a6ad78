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

Options classes may define ``problems(self) -> Iterable[tuple[str, str]]`` for checks
that span several fields; each (field path, message) becomes one line of the recipe
error report.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

import attrs

KINDS = ("backbone", "schedule", "sampler", "loss", "dataset", "metric", "tracker", "task", "baseline")


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

    def build(self, options: Any = None, **context: Any) -> Any:
        """Call the factory with `options` (defaults when None) and the task's context."""
        return self.factory(self.options() if options is None else options, **context)


class DuplicateComponentError(Exception):
    """Two distributions registered the same kind + name."""


class UnknownComponentError(KeyError):
    def __init__(self, kind: str, name: str, choices: list[str]):
        self.kind, self.name, self.choices = kind, name, choices
        super().__init__(name)

    def __str__(self) -> str:
        return unknown_name_message(self.kind, self.name, self.choices)


def unknown_name_message(kind: str, name: object, choices: list[str]) -> str:
    msg = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    return msg + f"; valid choices: {', '.join(sorted(choices)) or '(none registered)'}"


class Registry:
    """All components, by kind then name."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {k: {} for k in KINDS}

    def add(self, component: Component) -> None:
        if component.kind not in self._by_kind:
            raise ValueError(f"unknown component kind {component.kind!r}; kinds are {', '.join(KINDS)}")
        table = self._by_kind[component.kind]
        if component.name in table:
            other = table[component.name]
            raise DuplicateComponentError(
                f"{component.kind} {component.name!r} is registered by both "
                f"{other.origin} {other.version} and {component.origin} {component.version}"
            )
        table[component.name] = component

    def remove(self, component: Component) -> None:
        self._by_kind[component.kind].pop(component.name, None)

    def get(self, kind: str, name: str) -> Component:
        table = self._by_kind[kind]
        if name not in table:
            raise UnknownComponentError(kind, name, list(table))
        return table[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        return name in self._by_kind.get(kind, {})

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from (self._by_kind[kind][n] for n in sorted(self._by_kind[kind]))


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
