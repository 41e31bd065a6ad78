"""Run directories: created new, never clobbered; files in them written atomically.

A run directory holds ``recipe.toml`` (the resolved recipe), ``checkpoints/``,
``summary.json`` and a marker file that says it is a dvcore run. ``prepare`` decides
whether a directory may receive a new run:

- missing or empty: created / used;
- an existing dvcore run: refused (continue it with ``--resume``), unless ``restart``,
  which moves the old run aside to ``<dir>.old-N`` first;
- anything else (a user's folder with files in it, a file): refused. Nothing a user
  made is ever overwritten.

Every refusal is a ``RecipeError`` naming the path (exit code 2).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from dvcore.atomic import write_text_atomic
from dvcore.errors import RecipeError

RECIPE_FILE = "recipe.toml"
SUMMARY_FILE = "summary.json"
MARKER_FILE = ".dvcore-run"
ERROR_LOG = "error.log"


def is_run(path: Path) -> bool:
    """A dvcore run: the marker, or (runs made before it existed) a recipe plus checkpoints or a summary."""
    path = Path(path)
    if (path / MARKER_FILE).is_file():
        return True
    return (path / RECIPE_FILE).is_file() and (
        (path / "checkpoints").is_dir() or (path / SUMMARY_FILE).is_file()
    )


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def prepare(path: Path, *, restart: bool = False, option: str = "--run-dir") -> Path:
    """Make ``path`` ready for a new run (see the module docstring); returns it."""
    path = Path(path)
    try:
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise RecipeError([f"{option} {path}: exists and is not a directory; nothing was written"])
            if is_run(path):
                if not restart:
                    raise RecipeError(
                        [
                            f"{option} {path}: holds a dvcore run already; continue it with "
                            f"`dvcore run --resume {path}`, or start over with --restart "
                            "(the old run is moved aside)"
                        ]
                    )
                aside = _free_sibling(path, "old")
                os.replace(path, aside)
                print(f"dvcore: moved the previous run aside to {aside}", flush=True)
            elif any(path.iterdir()):
                raise RecipeError(
                    [
                        f"{option} {path}: not empty and not a dvcore run; nothing was written "
                        "(choose a new or empty directory)"
                    ]
                )
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".dvcore-write-test-{os.getpid()}"
        probe.write_bytes(b"")  # writable? (mkdir succeeds on an existing read-only directory)
        probe.unlink()
    except OSError as exc:
        raise RecipeError([f"{option} {path}: cannot create the run directory: {_why(exc)}"]) from None
    return path


def mark(path: Path) -> None:
    """Say that ``path`` holds a dvcore run (written with its recipe, once every check passed)."""
    if not (path / MARKER_FILE).exists():
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        write_text_atomic(path / MARKER_FILE, json.dumps({"created": stamp}) + "\n")


def _free_sibling(path: Path, tag: str) -> Path:
    n = 1
    while (candidate := path.with_name(f"{path.name}.{tag}-{n}")).exists():
        n += 1
    return candidate


def keep_previous(path: Path) -> Path | None:
    """Copy ``path`` to ``<stem>.resume-N<suffix>`` beside it before it changes; returns the copy."""
    if not path.exists():
        return None
    n = 1
    while (copy := path.with_name(f"{path.stem}.resume-{n}{path.suffix}")).exists():
        n += 1
    write_text_atomic(copy, path.read_text(encoding="utf-8"))
    return copy
