"""Recipe inheritance: ``extends = "base.toml"`` merges a recipe file onto its base, key by key.

A file names at most one base, by a path relative to the file itself; the base may
extend another (a chain). The merge, child over base:

- tables merge key by key (``[train]`` in the child changes only the keys it names);
- a component section whose ``name`` changes replaces the base's section whole: the
  base's options belong to another component (``model = "unet"`` under a patch
  interpolator base must not inherit ``src_field``);
- arrays and scalars replace.

Cycles and missing bases are recipe errors naming the whole chain. The header comment
(the leading ``#`` lines) of the first file in the chain that has one is the recipe's
description.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dvcore.errors import RecipeError
from dvcore.recipe import parse_toml

EXTENDS = "extends"


def resolve(path: str | Path) -> dict[str, Any]:
    """The recipe file at ``path`` with its chain of bases merged in; no ``extends`` key left."""
    chain: list[Path] = []
    data = _resolve(Path(path), chain)
    return data


def _resolve(path: Path, chain: list[Path]) -> dict[str, Any]:
    key = path.resolve()
    if key in [p.resolve() for p in chain]:
        names = " -> ".join(str(p) for p in [*chain, path])
        raise RecipeError([f"{chain[0]}: extends: cycle: {names}"])
    if chain and not path.is_file():
        names = " -> ".join(str(p) for p in [*chain, path])
        raise RecipeError([f"{chain[-1]}: extends: no such file {str(path)!r} (chain: {names})"])
    chain.append(path)
    data = parse_toml(path)
    base_name = data.pop(EXTENDS, None)
    if base_name is None:
        return data
    if not isinstance(base_name, str) or not base_name:
        raise RecipeError([f"{path}: extends: expected a path to a base recipe, got {base_name!r}"])
    base = _resolve(path.parent / base_name, chain)
    return merge(base, data)


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: tables key by key, a section with another ``name`` whole, the rest
    replaced."""
    out = dict(base)
    for key, value in child.items():
        old = out.get(key)
        if _is_section(old) and _is_section(value) and _name(old) != _name(value) and _name(value):
            out[key] = value  # another component: none of the base's options apply
        elif isinstance(old, str) and isinstance(value, dict) and value.get("name", old) == old:
            out[key] = {"name": old, **value}  # `model = "unet"` in the base, options in the child
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(old, value)
        elif isinstance(old, dict) and isinstance(value, str) and old.get("name") == value:
            pass  # the same component named bare: keep the base's options
        else:
            out[key] = value
    return out


def _is_section(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, dict) and "name" in value)


def _name(value: Any) -> Any:
    return value if isinstance(value, str) else value.get("name")


def header_comment(path: str | Path) -> str | None:
    """The leading ``#`` lines of the recipe file (or of the first base in its chain that has them)."""
    seen: set[Path] = set()
    current: Path | None = Path(path)
    while current is not None and current.resolve() not in seen and current.is_file():
        seen.add(current.resolve())
        text = _read(current)
        lines = []
        for line in text.lstrip("\n").splitlines():
            if not line.startswith("#"):
                break
            lines.append(line[1:].removeprefix(" ").rstrip())
        if any(lines):
            return "\n".join(lines).strip()
        match = re.search(r'^\s*extends\s*=\s*"([^"]+)"', text, re.MULTILINE)
        current = current.parent / match[1] if match else None
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
