"""Structuring a recipe and reporting every problem at once: one line per problem, with its TOML path.

model.depth: expected int, got 'six'
model.name: unknown backbone 'unte' (did you mean 'unet'?); valid choices: ...
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

from dvcore.errors import RecipeError
from dvcore.options import standard_problem
from dvcore.recipe.converter import Invalid, Located, make_converter
from dvcore.recipe.schema import Recipe, Section
from dvcore.registry import Registry, UnknownComponentError


def _join(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(recipe)"


def _walk(exc: BaseException, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(exc, Located):
        yield from _walk(exc.error, [*path, exc.key])
    elif isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, AttributeValidationNote):
                    sub_path = [*path, note.name]
                    break
                if isinstance(note, IterableValidationNote):
                    sub_path = [*path, note.index]
                    break
            yield from _walk(sub, sub_path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            yield [*path, key], "unknown key; " + _valid_keys(key, valid)
    elif isinstance(exc, KeyError) and not isinstance(exc, UnknownComponentError):
        yield path, "required, but missing"
    elif isinstance(exc, Invalid | UnknownComponentError):
        yield path, str(exc)
    else:
        yield path, f"{type(exc).__name__}: {exc}"


def _valid_keys(key: str, valid: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + f"valid keys: {', '.join(valid) or '(none)'}"


def _check_values(
    obj: Any, path: list[str | int], owner: str = "recipe"
) -> Iterator[tuple[list[str | int], str]]:
    """Run the standard checks, every field validator and ``problems()``, collecting all failures.

    A check that crashes is a bug in the component, not in the recipe, but it must still end
    as one line of the report ("internal check failed in ..."), never as a traceback. Cross-field
    ``problems()`` always run, so a report names every problem at once; when a field already
    failed its own check, a crash inside ``problems()`` (dividing by a field just reported as 0,
    say) is that field's consequence and is left out of the report.
    """
    if isinstance(obj, Section):
        if obj.options is not None:
            yield from _check_values(obj.options, path, f"{obj.kind} {obj.name!r}")
        return
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _check_values(item, [*path, i], owner)
        return
    if not attrs.has(type(obj)):
        return
    fields_ok = True
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        problem = standard_problem(field, value)
        if problem is None and field.validator is not None:
            try:
                field.validator(obj, field, value)
            except (ValueError, TypeError) as exc:
                problem = str(exc)
            except Exception as exc:  # any crash becomes one report line
                problem = _internal(owner, exc)
        if problem is not None:
            fields_ok = False
            yield [*path, field.name], problem
            continue
        yield from _check_values(value, [*path, field.name], owner)
    problems = getattr(obj, "problems", None)
    if callable(problems):
        try:
            found = [(subpath, message) for subpath, message in problems()]
        except Exception as exc:
            found = [("", _internal(owner, exc))] if fields_ok else []
        for subpath, message in found:
            yield [*path, *_split(str(subpath))], str(message)


def _internal(owner: str, exc: BaseException) -> str:
    return f"internal check failed in {owner}: {type(exc).__name__}: {exc}"


def _split(dotted: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


def structure(data: dict[str, Any], registry: Registry, cls: type = Recipe) -> Any:
    """Structure a recipe dict, raising ``RecipeError`` with every problem found."""
    conv = make_converter(registry)
    if isinstance(data, dict) and attrs.has(cls):
        # Default sections go through the same structuring and checks as written ones.
        data = dict(data)
        for field in attrs.fields(cls):
            if isinstance(field.default, Section) and field.name not in data:
                data[field.name] = {"name": field.default.name}
    try:
        with attrs.validators.disabled():
            obj: Any = conv.structure(data, cls)
    except Exception as exc:
        found = list(_walk(exc, []))
        # Value checks need a structured object: retry without the values that failed to
        # structure, so out-of-range values elsewhere are reported in the same pass.
        pruned = copy.deepcopy(data)
        for path, _ in found:
            _prune(pruned, path)
        try:
            with attrs.validators.disabled():
                partial: Any = conv.structure(pruned, cls)
            failed = [q for q, _ in found]
            # a check on a value that failed to structure (or on what contains it) would only repeat it
            found += [
                (p, m) for p, m in _check_values(partial, []) if not any(_overlaps(p, q) for q in failed)
            ]
        except Exception:
            pass  # e.g. a required section is missing: the structural problems are all we can say
        raise RecipeError(
            [f"{_join(p)}: {m}" for p, m in sorted(found, key=lambda pm: _sort_key(pm[0]))]
        ) from None
    problems = sorted(_check_values(obj, []), key=lambda pm: _sort_key(pm[0]))
    if problems:
        raise RecipeError([f"{_join(p)}: {m}" for p, m in problems])
    return obj


def _overlaps(a: list[str | int], b: list[str | int]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _sort_key(path: list[str | int]) -> list[tuple[int, str]]:
    return [(0, str(p)) if isinstance(p, str) else (1, f"{p:08d}") for p in path]


def _prune(data: Any, path: list[str | int]) -> None:
    """Delete the value at ``path`` (a whole list when the path goes through one)."""
    node = data
    for i, key in enumerate(path):
        last = i == len(path) - 1
        nxt = path[i + 1] if not last else None
        if not isinstance(node, dict) or key not in node:
            return
        if last or isinstance(nxt, int) or (nxt == "name" and i + 1 == len(path) - 1):
            del node[key]  # a list, a section whose name is unknown, or the value itself
            return
        node = node[key]
