"""``--set key.path=value`` overrides, and switching a section's component by overriding its ``name``."""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Iterable
from typing import Any

import attrs

from dvcore.errors import RecipeError
from dvcore.recipe.schema import Recipe, Section
from dvcore.registry import Registry


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=c`` -> (['a', 'b'], c parsed as a TOML value; a bare word stays a string)."""
    if "=" not in text:
        raise RecipeError([f"--set {text}: expected key.path=value"])
    key, raw = text.split("=", 1)
    keys = [k.strip() for k in key.strip().split(".")]
    if not all(keys):
        raise RecipeError([f"--set {text}: empty key in {key!r}"])
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return keys, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    problems = []
    for text in overrides:
        keys, value = parse_override(text)
        table = data
        for i, key in enumerate(keys[:-1]):
            node = table.setdefault(key, {})
            if isinstance(node, str):  # a bare component name, e.g. `model = "unet"`
                node = table[key] = {"name": node}
            if not isinstance(node, dict):
                problems.append(f"--set {text}: {'.'.join(keys[: i + 1])} is not a table")
                break
            table = node
        else:
            table[keys[-1]] = value
    if problems:
        raise RecipeError(problems)
    return data


def switch_components(
    original: dict[str, Any], data: dict[str, Any], overrides: list[str], registry: Registry
) -> list[str]:
    """Drop, from each section whose ``name`` an override changed, the file's options the new component lacks.

    ``--set model.name=unet`` on a recipe written for another backbone would otherwise leave
    that backbone's options behind as "unknown key" errors. Options given with ``--set`` are
    kept (and validated like any). Edits ``data`` in place; returns one notice line per
    section that lost options.
    """
    set_paths = {tuple(parse_override(text)[0]) for text in overrides}
    notices = []
    for key in _section_fields(Recipe):
        section, before = data.get(key), original.get(key)
        if (key, "name") not in set_paths or not isinstance(section, dict) or not isinstance(before, dict):
            continue
        new_name = section.get("name")
        if not isinstance(new_name, str) or new_name == before.get("name"):
            continue
        try:
            known = {f.name for f in attrs.fields(registry.get(_section_kind(key), new_name).options)}
        except KeyError:  # an unknown or ambiguous name is reported by ``structure``
            continue
        dropped = sorted(k for k in section if k != "name" and k not in known and (key, k) not in set_paths)
        for k in dropped:
            del section[k]
        if dropped:
            notices.append(
                f"dvcore: note: --set {key}.name={new_name}: dropped the file's {key} options that "
                f"{new_name} does not take: {', '.join(dropped)}"
            )
    return notices


def _section_fields(cls: type) -> dict[str, type[Section]]:
    """The fields of ``cls`` that hold one component section (optional or not), by name."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in attrs.fields(cls):
        for tp in (hints[field.name], *typing.get_args(hints[field.name])):
            if isinstance(tp, type) and issubclass(tp, Section):
                out[field.name] = tp
    return out


def _section_kind(key: str) -> str:
    return _section_fields(Recipe)[key].kind
