"""Helpers for writing component options classes.

An options class is a frozen attrs class; each field is declared with ``opt``,
which records a one-line doc that ``dvcore plugins`` prints. Validators here
raise messages in the recipe-error style ("expected > 0, got -1"), without the
field name: the recipe loader prefixes the TOML path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def opt(default: Any = attrs.NOTHING, doc: str = "", *validators: Validator, factory: Any = None) -> Any:
    """An option field with a doc string and validators (skipped for None values)."""
    validator = [_skip_none(v) for v in validators] or None
    if factory is not None:
        return attrs.field(factory=factory, validator=validator, metadata={"doc": doc})
    return attrs.field(default=default, validator=validator, metadata={"doc": doc})


def _skip_none(validator: Validator) -> Validator:
    def check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(inst, attribute, value)

    return check


def gt(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value > bound:
            raise ValueError(f"expected > {bound}, got {value!r}")

    return check


def ge(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value >= bound:
            raise ValueError(f"expected >= {bound}, got {value!r}")

    return check


def le(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value <= bound:
            raise ValueError(f"expected <= {bound}, got {value!r}")

    return check


def lt(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value < bound:
            raise ValueError(f"expected < {bound}, got {value!r}")

    return check


def odd(_inst: Any, _attr: Any, value: Any) -> None:
    if value % 2 != 1:
        raise ValueError(f"expected an odd number, got {value!r}")


def each(validator: Validator) -> Validator:
    """Apply ``validator`` to every item of a list."""

    def check(inst: Any, attr: Any, value: Any) -> None:
        for i, item in enumerate(value):
            try:
                validator(inst, attr, item)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None

    return check


def existing_path(_inst: Any, _attr: Any, value: Any) -> None:
    if not Path(value).expanduser().exists():
        raise ValueError(f"path does not exist: {str(value)!r}")


def doc_of(attribute: attrs.Attribute[Any]) -> str:
    return attribute.metadata.get("doc", "")
