"""Helpers for writing component options classes.

An options class is a frozen attrs class; each field is declared with ``opt``,
which records a one-line doc that ``dvcore plugins`` prints. Validators here
raise messages in the recipe-error style ("expected > 0, got -1"), without the
field name: the recipe loader prefixes the TOML path.

Every field also gets the standard checks of ``standard_problem`` (the recipe loader
runs them before the field's own validators), so no component has to remember them:
integers within int32 unless the field declares its own upper bound (``le``/``lt``),
floats finite, text without control characters, the same for every item of a list.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

# torch sizes, indices and CUDA grid dimensions are int32 in many places; nothing in a recipe
# needs more unless its field says so with an explicit upper bound (le/lt).
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
MAX_TEXT = 4096  # characters in one string option (PATH_MAX on Linux)

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def opt(
    default: Any = attrs.NOTHING,
    doc: str = "",
    *validators: Validator,
    factory: Any = None,
    finite: bool = True,
    multiline: bool = False,
) -> Any:
    """An option field with a doc string and validators (skipped for None values).

    ``finite=False`` lets a float field hold inf/nan (the standard checks refuse them);
    ``multiline=True`` lets a text field hold line breaks and tabs (e.g. a description).
    """
    validator = [_skip_none(v) for v in validators] or None
    uppers = [getattr(v, "upper", None) for v in validators]
    metadata = {
        "doc": doc,
        "constraints": [constraint_of(v) for v in validators],
        "upper": min((u for u in uppers if u is not None), default=None),
        "finite": finite,
        "multiline": multiline,
    }
    if factory is not None:
        return attrs.field(factory=factory, validator=validator, metadata=metadata)
    return attrs.field(default=default, validator=validator, metadata=metadata)


def range_opt(default: list[Any], doc: str, validator: Validator) -> Any:
    """A [min, max] option: the doc reads "[min, max] <doc>", ``validator`` applies to each bound.

    The pair itself (two values, min <= max) is checked by ``range_problems`` in ``problems()``.
    """
    return opt(attrs.NOTHING, f"[min, max] {doc}", each(validator), factory=lambda: list(default))


def range_problems(name: str, value: list[Any]) -> Iterable[tuple[str, str]]:
    """The problems of a [min, max] option ``name``: not two values, or min > max."""
    if len(value) != 2:
        yield name, f"expected [min, max], got {value!r}"
    elif value[0] > value[1]:
        yield name, f"expected min <= max, got {value!r}"


def standard_problem(attribute: attrs.Attribute[Any], value: Any) -> str | None:
    """The checks every option gets, whatever its component: a message, or None when fine."""
    meta = attribute.metadata
    return _standard(value, meta.get("upper"), meta.get("finite", True), meta.get("multiline", False))


def _standard(value: Any, upper: float | None, finite: bool, multiline: bool = False) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if upper is None and value > INT_MAX:
            return f"expected <= {INT_MAX}, got {value!r}"
        if value < INT_MIN:
            return f"expected >= {INT_MIN}, got {value!r}"
    elif isinstance(value, float):
        if finite and not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
    elif isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"expected at most {MAX_TEXT} characters, got {len(value)}"
        if _has_control(value.replace("\n", "").replace("\t", "") if multiline else value):
            return f"expected text without control characters, got {value!r}"
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            problem = _standard(item, upper, finite, multiline)
            if problem:
                return f"item {i}: {problem}"
    return None


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def path_component(_inst: Any, _attr: Any, value: Any) -> None:
    """A name used as one folder name: no separators, no '.'/'..', no control characters."""
    if (
        value in ("", ".", "..")
        or "/" in value
        or "\\" in value
        or _has_control(value)
        or len(value.encode()) > 255
    ):
        raise ValueError(
            "expected a name usable as one folder name (no '/', '..', NUL or control characters), got "
            f"{value!r}"
        )


def constraint_of(validator: Validator) -> str:
    """What a validator demands, in words ("> 0", "odd"): its ``constraint`` attribute, else its name."""
    return str(getattr(validator, "constraint", None) or getattr(validator, "__name__", repr(validator)))


def _described(constraint: str, check: Validator) -> Validator:
    check.constraint = constraint  # type: ignore[attr-defined]  # shown by `dvcore plugins show`
    return check


def _skip_none(validator: Validator) -> Validator:
    def check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(inst, attribute, value)

    return check


def gt(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value > bound:
            raise ValueError(f"expected > {bound}, got {value!r}")

    return _described(f"> {bound}", check)


def ge(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value >= bound:
            raise ValueError(f"expected >= {bound}, got {value!r}")

    return _described(f">= {bound}", check)


def le(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value <= bound:
            raise ValueError(f"expected <= {bound}, got {value!r}")

    check.upper = bound  # type: ignore[attr-defined]  # replaces the standard int32 bound
    return _described(f"<= {bound}", check)


def lt(bound: float) -> Validator:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not value < bound:
            raise ValueError(f"expected < {bound}, got {value!r}")

    check.upper = bound  # type: ignore[attr-defined]  # replaces the standard int32 bound
    return _described(f"< {bound}", check)


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

    return _described(f"each item {constraint_of(validator)}", check)


def existing_path(_inst: Any, _attr: Any, value: Any) -> None:
    try:
        exists = Path(value).expanduser().exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        raise ValueError(
            f"cannot access path {str(value)!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if not exists:
        raise ValueError(f"path does not exist: {str(value)!r}")


odd.constraint = "odd"  # type: ignore[attr-defined]
existing_path.constraint = "an existing path"  # type: ignore[attr-defined]
path_component.constraint = "one folder name"  # type: ignore[attr-defined]


def doc_of(attribute: attrs.Attribute[Any]) -> str:
    return str(attribute.metadata.get("doc", ""))


def describe_options(options_cls: type) -> list[dict[str, Any]]:
    """Each field of an options class: name, type, default ("(required)" when none), doc, constraints."""
    out = []
    for field in attrs.fields(attrs.resolve_types(options_cls)):
        if field.default is attrs.NOTHING:
            default: Any = "(required)"
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            default = field.default.factory()
        else:
            default = field.default
        out.append(
            {
                "name": field.name,
                "type": _type_name(field.type),
                "default": default,
                "doc": doc_of(field),
                "constraints": constraints_of(field),
            }
        )
    return out


def constraints_of(field: attrs.Attribute[Any]) -> list[str]:
    """What a field accepts beyond its type: the choices of a Literal, then each validator's constraint."""
    out = []
    args = [a for a in typing.get_args(field.type) if a is not type(None)] or [field.type]
    for arg in args:
        if typing.get_origin(arg) is typing.Literal:
            out.append("one of " + ", ".join(repr(c) for c in typing.get_args(arg)))
    if typing.get_origin(field.type) is typing.Literal:
        out = ["one of " + ", ".join(repr(c) for c in typing.get_args(field.type))]
    return out + list(field.metadata.get("constraints", []))


def _type_name(tp: Any) -> str:
    if tp is None:
        return "?"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def raise_problems(component: str, problems: Iterable[tuple[str, str] | str]) -> None:
    """The one report of an options object's ``problems()`` outside the recipe loader.

    Raises ``ValueError("<component>: <field>: <message>; ...")`` when there is any problem
    (each either a (field, message) pair or a line already naming its field); else returns.
    """
    lines = [p if isinstance(p, str) else f"{p[0]}: {p[1]}" for p in problems]
    if lines:
        raise ValueError(f"{component}: " + "; ".join(lines))
