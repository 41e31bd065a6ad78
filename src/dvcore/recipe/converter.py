"""The strict cattrs converter: TOML values -> typed attrs objects, and back.

cattrs would otherwise coerce '0.1' -> 0.1 and 2.7 -> 2; strict hooks forbid that. Component
sections are structured through the registry into the named component's options class.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
import tomli_w
from cattrs.cols import list_structure_factory

from dvcore.recipe.schema import InitConfig, Recipe, Section
from dvcore.registry import AmbiguousComponentError, Registry, UnknownComponentError, unknown_name_message


class Invalid(ValueError):
    """A value that does not fit; the message is final (no path, added by the caller)."""


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array of tables" if value and all(isinstance(v, dict) for v in value) else "an array"
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"


def _type_name(tp: Any) -> str:
    return {int: "int", float: "float", str: "string", bool: "bool", Path: "path"}.get(tp, str(tp))


def _strict(tp: type, accept: tuple[type, ...]) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int in Python, never in a recipe.
        if (isinstance(value, bool) and bool not in accept) or not isinstance(value, accept):
            raise Invalid(f"expected {_type_name(tp)}, got {_describe(value)}")
        return tp(value)

    return structure


def _structure_int_or_str(value: Any, _: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"expected int or string, got {_describe(value)}")
    return value


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _structure_literal(value: Any, tp: Any) -> Any:
    choices = typing.get_args(tp)
    if value in choices and type(value) is type(choices[choices.index(value)]):
        return value
    msg = f"expected one of {', '.join(repr(c) for c in choices)}, got {_describe(value)}"
    close = [
        c for c in choices if isinstance(c, str) and isinstance(value, str) and c.lower() == value.lower()
    ]
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    raise Invalid(msg)


def make_converter(registry: Registry) -> cattrs.Converter:
    """A strict converter that structures component sections through ``registry``."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    _register_scalars(conv)
    _register_init_config(conv)
    _register_containers(conv)
    _register_sections(conv, registry)
    return conv


def _register_scalars(conv: cattrs.Converter) -> None:
    """No coercion: an int is an int (never a bool or a string), a float may be written as an int."""
    conv.register_structure_hook(int, _strict(int, (int,)))
    conv.register_structure_hook(float, _strict(float, (int, float)))
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))
    conv.register_structure_hook(Path, _strict(Path, (str,)))
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook(int | str, _structure_int_or_str)


def _register_init_config(conv: cattrs.Converter) -> None:
    """``[init]`` spells ``source`` as ``from`` (a Python keyword) in TOML."""
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    rename = {"source": override(rename="from")}
    conv.register_structure_hook(
        InitConfig,
        make_dict_structure_fn(
            InitConfig, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True, **rename
        ),
    )
    conv.register_unstructure_hook(InitConfig, make_dict_unstructure_fn(InitConfig, conv, **rename))


def _only(container: type, what: str, inner: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``inner``, after checking that the value is a ``container`` (else: expected ``what``)."""

    def structure(value: Any, tp: Any) -> Any:
        if not isinstance(value, container):
            raise Invalid(f"expected {what}, got {_describe(value)}")
        return inner(value, tp)

    return structure


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Section)


def _register_containers(conv: cattrs.Converter) -> None:
    """An array where an array belongs, a table where a table belongs.

    cattrs alone would split "blend" into characters and call .keys() on an array of tables.
    """
    conv.register_structure_hook_factory(
        lambda tp: typing.get_origin(tp) is list,
        lambda tp: _only(list, "an array", list_structure_factory(tp, conv)),
    )
    conv.register_structure_hook_factory(
        lambda tp: attrs.has(tp) and not _is_section(tp),
        lambda cl: _only(dict, "a table", conv.gen_structure_attrs_fromdict(cl)),
    )


def _register_sections(conv: cattrs.Converter, registry: Registry) -> None:
    """A component section: ``name`` looked up in ``registry``, the rest structured into its options."""

    def structure_section(value: Any, cls: type[Section]) -> Section:
        if isinstance(value, str):  # a bare name: the component with default options
            value = {"name": value}
        if not isinstance(value, dict):
            raise Invalid(f'expected a table with name = "..." (a {cls.kind}), got {_describe(value)}')
        choices = registry.names(cls.kind)
        if "name" not in value:
            raise Invalid(f'missing name = "..."; valid {cls.kind} choices: {", ".join(choices)}')
        name = value["name"]
        if not isinstance(name, str):
            raise Located("name", Invalid(unknown_name_message(cls.kind, name, choices)))
        try:
            component = registry.get(cls.kind, name)
        except (UnknownComponentError, AmbiguousComponentError) as exc:
            raise Located("name", Invalid(str(exc))) from None
        rest = {k: v for k, v in value.items() if k != "name"}
        return cls(name=name, options=conv.structure(rest, component.options))

    def unstructure_section(section: Section) -> dict[str, Any]:
        options = section.options
        if options is None:
            options = registry.get(section.kind, section.name).options()
        return {"name": section.name, **conv.unstructure(options)}

    conv.register_structure_hook_func(_is_section, structure_section)
    conv.register_unstructure_hook_func(_is_section, unstructure_section)


class Located(Exception):
    """An error at a sub-path of the value being structured (e.g. a section's ``name``)."""

    def __init__(self, key: str, error: Exception):
        self.key, self.error = key, error
        super().__init__(str(error))


def to_dict(recipe: Recipe, registry: Registry) -> dict[str, Any]:
    """The fully resolved recipe (every default filled in), TOML-ready (no None values)."""
    return _drop_none(make_converter(registry).unstructure(recipe))


def to_toml(recipe: Recipe, registry: Registry) -> str:
    return tomli_w.dumps(to_dict(recipe, registry))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
