"""Where a run goes: a new run directory (never clobbering one), or a run to resume and its checkpoint."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from dvcore import recipe as recipes
from dvcore import rundir
from dvcore.errors import RecipeError
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.train import checkpoint


def new_run_dir(recipe: Recipe, run_dir: Path | None) -> Path:
    if run_dir is not None:
        return Path(run_dir)
    name = recipe.run_name or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(recipe.runs_root) / recipe.experiment / name
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(recipe.runs_root) / recipe.experiment / f"{name}-{suffix}"
    return path


# Keys a resume may change: when and what is logged, evaluated and kept, and for how long it trains.
RESUMABLE_KEYS = (
    "train.max_steps",
    "train.max_epochs",
    "train.eval_every",
    "train.checkpoint_every",
    "train.log_every",
    "train.keep_last",
    "train.num_workers",
    "train.prefetch",
    "tracker",
)


def resume_problems(old: Recipe, new: Recipe, registry: Registry, run_dir: Path) -> list[str]:
    """One line per recipe key that differs from the run's and may not change on a resume."""
    before, after = _flatten(recipes.to_dict(old, registry)), _flatten(recipes.to_dict(new, registry))
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    fixed = [k for k in changed if not any(k == r or k.startswith(r + ".") for r in RESUMABLE_KEYS)]
    return [
        f"{k}: cannot change on --resume (the run has {_show(before.get(k))}, got {_show(after.get(k))}); "
        f"on a resume only {', '.join(RESUMABLE_KEYS)} may change; nothing in {run_dir} was changed"
        for k in fixed
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return "it unset" if value is None else repr(value)


def prepare_run_dir(
    recipe: Recipe, registry: Registry, run_dir: Path | None, resume: bool, restart: bool
) -> tuple[Path, checkpoint.Loaded | None]:
    """The run directory, checked and (for a new run) created; the checkpoint to resume from."""
    if not resume:
        option = "--run-dir" if run_dir is not None else "run directory"
        return rundir.prepare(new_run_dir(recipe, run_dir), restart=restart, option=option), None
    assert run_dir is not None, "a resume names its run directory"
    run_dir = Path(run_dir)
    if not rundir.is_run(run_dir):
        raise RecipeError([f"--resume {run_dir}: not a dvcore run directory"])
    latest, failures = checkpoint.find_latest(run_dir / "checkpoints")
    if latest is None:
        why = "no checkpoint verifies" if failures else f"no checkpoint in {run_dir / 'checkpoints'}"
        raise RecipeError(
            [
                *failures,
                f"--resume {run_dir}: {why}; nothing was written (start over with "
                f"`dvcore run {run_dir / rundir.RECIPE_FILE} --run-dir {run_dir} --restart`)",
            ]
        )
    for line in failures:
        print(f"dvcore: warning: skipping corrupt checkpoint: {line}", file=sys.stderr)
    old = recipes.load(run_dir / rundir.RECIPE_FILE, (), registry)
    problems = resume_problems(old, recipe, registry, run_dir)
    if problems:
        raise RecipeError(problems)
    return run_dir, latest
