"""A run, from a validated recipe to a run directory with checkpoints and a summary.

recipe -> components (task, data, backbone, loss, metrics, tracker) -> trainer -> tracker.
Checking a recipe before a run is ``dvcore.validate``; choosing or resuming the run directory
is ``dvcore.resume``; building the components is ``dvcore.build``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from dvcore import recipe as recipes
from dvcore import rundir
from dvcore.atomic import write_text_atomic
from dvcore.build import Components, build_components, count_parameters, resolve_device
from dvcore.errors import RecipeError, RunFailed, TrainingDiverged, TrainingStopped, one_line
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.resume import RESUMABLE_KEYS, new_run_dir, prepare_run_dir, resume_problems
from dvcore.seeding import process_seed, seed_everything
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.base import RunInfo, Tracker
from dvcore.train import checkpoint, distributed, init_from
from dvcore.train.trainer import Trainer
from dvcore.validate import validate

__all__ = [  # the names other modules, tests and benchmarks import from here
    "INIT_FILE",
    "RECIPE_FILE",
    "RESUMABLE_KEYS",
    "SUMMARY_FILE",
    "Components",
    "build_components",
    "count_parameters",
    "execute",
    "new_run_dir",
    "provenance",
    "resolve_device",
    "resume_problems",
    "seed_everything",
    "validate",
]

RECIPE_FILE = rundir.RECIPE_FILE
SUMMARY_FILE = rundir.SUMMARY_FILE
INIT_FILE = "init.json"  # provenance of a fine-tune's starting weights


def provenance(registry: Registry) -> dict[str, Any]:
    """Git commit of the working tree (when in one) and versions of the distributions that registered
    components.
    """
    commit = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path.cwd()
        )
        commit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {c.origin: c.version for c in registry}
    return {"git_commit": commit, "versions": {**versions, "torch": str(torch.__version__)}}


def _write_recipe(recipe: Recipe, registry: Registry, run_dir: Path) -> None:
    """recipe.toml, atomically; on a resume that changed it, the previous one kept as recipe.resume-N.toml."""
    rundir.mark(run_dir)
    path = run_dir / rundir.RECIPE_FILE
    text = recipes.to_toml(recipe, registry)
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return
        rundir.keep_previous(path)
    write_text_atomic(path, text)


def execute(
    recipe: Recipe,
    registry: Registry,
    *,
    run_dir: Path | None = None,
    resume: bool = False,
    restart: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a recipe in a run directory; returns the summary written to summary.json.

    Everything is checked before anything is written: the recipe with its components
    (``validate``), the run directory (new, empty, or ``restart``), and on ``resume`` a
    verified checkpoint that fits the recipe and overrides that may change mid-run.
    Whatever the ending, summary.json records it (``status``: completed, stopped,
    diverged, failed). Under torchrun every process calls this; rank 0 names the run
    directory, tracks and writes checkpoints, and every rank resumes from the same checkpoint.
    """
    device = resolve_device(recipe.device)
    dist_info = distributed.init(device)
    device = distributed.device_for(dist_info, device)
    validate(recipe, registry, world_size=dist_info.world_size)
    prepared = prepare_run_dir(recipe, registry, run_dir, resume, restart) if dist_info.is_main else None
    run_dir = distributed.broadcast(prepared[0] if prepared else None, dist_info)
    latest = prepared[1] if prepared else None
    if resume and not dist_info.is_main:
        latest = checkpoint.load_latest(run_dir / "checkpoints")

    try:
        components, trainer, tracker = _set_up(recipe, registry, run_dir, latest, dist_info, device, progress)
    except RecipeError:
        raise
    except Exception as exc:  # e.g. out of memory building the model, a tracker that cannot open its repo
        error = one_line(exc)
        step = latest[2].get("step", 0) if latest else 0
        log = _error_log(run_dir, dist_info.is_main)
        if dist_info.is_main and rundir.is_run(run_dir):
            summary = {"experiment": recipe.experiment, "run_dir": str(run_dir), "status": "failed"}
            _write_summary(run_dir, {**summary, "error": error, "steps": step})
        raise RunFailed(error, step, log) from exc
    return _train(recipe, run_dir, components, trainer, tracker, dist_info)


def _train(
    recipe: Recipe,
    run_dir: Path,
    components: Components,
    trainer: Trainer,
    tracker: Tracker,
    dist_info: distributed.DistInfo,
) -> dict[str, Any]:
    """``trainer.fit()``; whatever the ending, the tracker closed and summary.json written (by rank 0)."""
    started = time.perf_counter()
    status, error, result = "completed", None, EvalResult({})
    try:
        result = trainer.fit()
    except TrainingStopped:
        status = "stopped"
        raise
    except TrainingDiverged as exc:
        status, error = "diverged", str(exc)
        raise
    except KeyboardInterrupt:
        status, error = "stopped", "interrupted before a checkpoint could be written"
        raise
    except Exception as exc:
        status, error = "failed", one_line(exc)
        raise RunFailed(error, trainer.step, _error_log(run_dir, dist_info.is_main)) from exc
    finally:
        status, error, interrupted = _close_tracker(tracker, status, error)
        summary = {
            "experiment": recipe.experiment,
            "run_dir": str(run_dir),
            "status": status,
            "error": error,
            "steps": trainer.step,
            "skipped_steps": trainer.skipped_steps,
            "train_seconds": round(time.perf_counter() - started, 2),
            "parameters": count_parameters(components.model),
            "world_size": dist_info.world_size,
            "tracker_run_id": tracker.run_id,
            "eval": result.scores,
            **_task_summary(components.task),
            **_init_summary(run_dir),
        }
        if dist_info.is_main:
            _write_summary(run_dir, summary)
    if interrupted:
        raise KeyboardInterrupt
    if status == "failed":  # the tracker failed to close: the run's record may be incomplete
        raise RunFailed(error or "failed", trainer.step, None)
    return summary


def _close_tracker(tracker: Tracker, status: str, error: str | None) -> tuple[str, str | None, bool]:
    """Close the tracker; the run's status and error (changed only when it was "completed"), and whether a
    second signal interrupted the closing."""
    try:
        tracker.close()
    except KeyboardInterrupt:  # a second signal while the tracker flushed: the summary still comes
        if status == "completed":
            status, error = "stopped", "interrupted while closing the tracker"
        return status, error, True
    except Exception as exc:
        if status == "completed":
            status, error = "failed", f"closing the tracker: {one_line(exc)}"
    return status, error, False


def _set_up(
    recipe: Recipe,
    registry: Registry,
    run_dir: Path,
    latest: checkpoint.Loaded | None,
    dist_info: distributed.DistInfo,
    device: torch.device,
    progress: bool,
) -> tuple[Components, Trainer, Tracker]:
    """Components, trainer (restored when resuming) and tracker; recipe.toml written once all fit."""
    seed_everything(recipe.seed)
    components = build_components(recipe, registry)  # identical weights on every rank
    init_record = None
    if recipe.init is not None and latest is None:  # a fine-tune: the source's weights (validated above)
        init_record = init_from.initialize(components.model, recipe.init)
    if dist_info.rank > 0:
        # Other ranks draw their own noise (diffusion timesteps and noise must differ per shard).
        seed_everything(process_seed(recipe.seed, dist_info.rank))
    trainer = Trainer(
        recipe,
        components.task,
        components.model,
        run_dir=run_dir,
        tracker=Tracker(),  # the real one once the checkpoint is known to fit
        device=device,
        progress=progress,
        dist_info=dist_info,
    )
    if latest is not None:
        path, tensors, state = latest
        try:
            trainer.restore(tensors, state)
        except Exception as exc:  # e.g. a recipe.toml edited by hand to another model
            raise RecipeError(
                [f"{path}: does not fit the run's recipe ({one_line(exc)}); nothing was changed"]
            ) from None
    resume_id = latest[2].get("tracker_run_id") if latest else None
    tracker = (
        _open_tracker(recipe, registry, run_dir, resume_id, init_record) if dist_info.is_main else Tracker()
    )
    trainer.tracker = tracker
    if latest is not None:
        if dist_info.is_main:
            print(f"dvcore: resumed from {latest[0]} (step {trainer.step})", file=sys.stderr)
    else:
        init_hparams = {"init_provenance": init_record} if init_record else {}
        tracker.log_hparams({**recipes.to_dict(recipe, registry), **provenance(registry), **init_hparams})
        tracker.log_text("recipe", recipes.to_toml(recipe, registry))
    return components, trainer, tracker


def _open_tracker(
    recipe: Recipe,
    registry: Registry,
    run_dir: Path,
    resume_id: str | None,
    init_record: dict[str, Any] | None,
) -> Tracker:
    """(Rank 0) recipe.toml and a fine-tune's init.json written, then the recipe's tracker opened."""
    _write_recipe(recipe, registry, run_dir)
    if init_record is not None:
        write_text_atomic(run_dir / INIT_FILE, json.dumps(init_record, indent=2))
        for line in init_from.describe(init_record):
            print(line, file=sys.stderr)
    tracker_info = RunInfo(
        experiment=recipe.experiment,
        name=run_dir.name,
        directory=run_dir,
        runs_root=Path(recipe.runs_root),
        resume_id=resume_id,
        description=recipe.description,
        tags=(recipe.experiment, *recipe.tags),
    )
    tracker: Tracker = registry.get("tracker", recipe.tracker.name).build(
        recipe.tracker.options, run=tracker_info
    )
    return tracker


def _write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    try:
        write_text_atomic(run_dir / rundir.SUMMARY_FILE, json.dumps(summary, indent=2))
    except OSError as exc:
        print(f"dvcore: warning: cannot write {run_dir / rundir.SUMMARY_FILE}: {exc}", file=sys.stderr)


def _init_summary(run_dir: Path) -> dict[str, Any]:
    """A fine-tune's provenance (source run, step, checksum) for its summary.json, also after a resume."""
    try:
        return {"init": json.loads((run_dir / INIT_FILE).read_text())}
    except (OSError, ValueError):
        return {}


def _task_summary(task: Task) -> dict[str, Any]:
    try:
        return task.summary()
    except Exception as exc:  # the summary must be written whatever happened
        return {"task_summary_error": one_line(exc)}


def _error_log(run_dir: Path, is_main: bool) -> Path | None:
    """The current exception's traceback in RUN_DIR/error.log (appended); its path, or None."""
    if not is_main:
        return None
    path = run_dir / rundir.ERROR_LOG
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')}\n{traceback.format_exc()}\n")
    except OSError:
        return None
    return path
