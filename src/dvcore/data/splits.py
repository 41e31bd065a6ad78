"""A task's data splits, each built when first used.

Training uses both splits; scoring a trained run uses only ``eval``, and the data it is
scored on may have no training part at all (a folder of test clips). Inside
``only_splits("eval")`` a task built from its recipe offers just that split, so
evaluation never reads, or requires, the train split.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_ONLY: ContextVar[tuple[str, ...] | None] = ContextVar("dvcore_only_splits", default=None)


@contextlib.contextmanager
def only_splits(*names: str) -> Iterator[None]:
    """Tasks built inside this block offer only the named splits."""
    token = _ONLY.set(names)
    try:
        yield
    finally:
        _ONLY.reset(token)


def offered(names: tuple[str, ...] = ("train", "eval")) -> tuple[str, ...]:
    """Which of ``names`` the data must provide here (dataset options check only those)."""
    only = _ONLY.get()
    return tuple(n for n in names if only is None or n in only)


class Splits(Mapping[str, Any]):
    """split name -> dataset, built by ``build(split)`` on first access."""

    def __init__(self, build: Callable[[str], Any], names: tuple[str, ...] = ("train", "eval")):
        self.names = offered(names)
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = self._build(name)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def first_sample(self) -> dict[str, Any]:
        """Sample 0 of the first split on offer (train when training): what the data's shapes are."""
        sample: dict[str, Any] = self[self.names[0]][0]
        return sample
