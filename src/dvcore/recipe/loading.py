"""Reading recipe files: TOML (size and encoding checked), ``extends`` chains, overrides, validation."""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dvcore.errors import RecipeError
from dvcore.recipe.overrides import apply_overrides, switch_components
from dvcore.recipe.schema import Recipe
from dvcore.recipe.validation import structure
from dvcore.registry import Registry

MAX_RECIPE_BYTES = 1 << 20  # a recipe is a page of text; anything larger is not one


def parse_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file (UTF-8, at most 1 MiB); syntax errors become ``file:line:col: message``."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block or never end
            raise RecipeError([f"{path}: cannot read recipe: not a regular file"])
        with open(path, "rb") as f:
            raw = f.read(MAX_RECIPE_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise RecipeError([f"{path}: cannot read recipe: {getattr(exc, 'strerror', None) or exc}"]) from None
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError([f"{path}: recipe larger than {MAX_RECIPE_BYTES} bytes; is this a recipe?"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RecipeError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if where:
            msg = msg[: where.start()].strip()
            raise RecipeError([f"{path}:{where[1]}:{where[2]}: TOML syntax error: {msg}"]) from None
        raise RecipeError([f"{path}: TOML syntax error: {msg}"]) from None


SWEEP = "sweep"


def read(path: str | Path) -> dict[str, Any]:
    """A recipe file as a dict: its ``extends`` chain merged in, its header comment as the description."""
    from dvcore import recipe_extends

    data = recipe_extends.resolve(path)
    if "description" not in data:
        header = recipe_extends.header_comment(path)
        if header:
            data["description"] = header
    return data


def load(
    path: str | Path,
    overrides: Iterable[str] = (),
    registry: Registry | None = None,
    notify: Callable[[str], None] | None = None,
    *,
    replace: dict[str, Any] | None = None,
) -> Recipe:
    """Read, override and validate a recipe file (its ``extends`` chain merged in).

    ``replace``: top-level sections that replace the file's whole (e.g. another ``data``),
    applied before ``overrides``. An override of a section's ``name`` switches the component
    (see ``switch_components``); the one notice line per switch goes to ``notify`` (default: stderr).
    """
    if registry is None:
        from dvcore.plugins import registry as default_registry

        registry = default_registry()
    overrides = list(overrides)
    original = read(path)
    if SWEEP in original:
        raise RecipeError(
            [f"{path}: [{SWEEP}] describes a sweep of runs; start it with: dvcore sweep {path}"]
        )
    original = {**original, **(replace or {})}
    data = apply_overrides(copy.deepcopy(original), overrides)
    for line in switch_components(original, data, overrides, registry):
        (notify or _to_stderr)(line)
    recipe: Recipe = structure(data, registry)
    return recipe


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)
