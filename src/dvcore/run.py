"""A run, from a validated recipe to a run directory with checkpoints and a summary.

recipe -> components (task, data, backbone, loss, metrics, tracker) -> trainer -> tracker.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import torch
from torch import nn

from dvcore import preflight, rundir
from dvcore import recipe as recipes
from dvcore.atomic import write_text_atomic
from dvcore.errors import RecipeError, RunFailed, TrainingDiverged, TrainingStopped
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.seeding import process_seed, seed_everything
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.base import RunInfo, Tracker
from dvcore.train import checkpoint, distributed, init_from
from dvcore.train.trainer import Trainer

RECIPE_FILE = rundir.RECIPE_FILE
SUMMARY_FILE = rundir.SUMMARY_FILE
INIT_FILE = "init.json"  # provenance of a fine-tune's starting weights


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RecipeError(["device: 'cuda' requested but no CUDA device is available"])
    return torch.device(name)


@attrs.define
class Components:
    task: Task
    model: nn.Module


def build_components(recipe: Recipe, registry: Registry, device: torch.device | str = "cpu") -> Components:
    """Build the task (with its data, loss, metrics) and the backbone the task asks for."""
    task = registry.get("task", recipe.task.name).build(recipe.task.options, recipe=recipe, registry=registry)
    in_channels, out_channels = task.channels()
    backbone = registry.get("backbone", recipe.model.name)
    with torch.device(device):
        model = backbone.build(recipe.model.options, in_channels=in_channels, out_channels=out_channels)
    return Components(task, model)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def validate(recipe: Recipe, registry: Registry, *, world_size: int = 1) -> dict[str, Any]:
    """Build every component without training: the model on the meta device, one sample read per split.

    Runs the backbone once on a meta tensor of the data's shape to check that its
    output has the shape the task expects, checks that the splits give batches, and
    refuses a training step that cannot fit in memory (see ``dvcore.preflight``).
    Any failure is a ``RecipeError`` naming the section: a component that crashes on
    its options is reported, never shown as a traceback. Returns facts for the user.
    """
    # The memory of the device it would train on (a CUDA recipe still validates on a CPU machine).
    wants_cuda = recipe.device == "cuda" or (recipe.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if wants_cuda else "cpu")
    model_name = recipe.model.name
    try:
        with (  # nothing is known about sizes before a sample exists: guard the building and the read
            preflight.memory_budget(preflight.available_memory("cpu")),
            preflight.time_budget(preflight.validate_seconds()),
        ):
            model, splits, sample, (c_in, c_out) = _build_and_read(recipe, registry, world_size)
    except preflight.TookTooLong as exc:  # between two guarded steps
        raise RecipeError([f"(recipe): building the components: {exc}"]) from None
    if recipe.train.grad_checkpointing and not any(hasattr(m, "grad_checkpointing") for m in model.modules()):
        raise RecipeError([f"train.grad_checkpointing: backbone {model_name!r} does not support it"])
    key = "frames" if "frames" in sample else "image"
    if not isinstance(sample.get(key), torch.Tensor):
        raise RecipeError(["data: sample 0 of the train split has no 'frames' or 'image' tensor"])
    h, w = sample[key].shape[-2:]
    try:
        with preflight.time_budget(preflight.validate_seconds()):
            out = model(torch.empty(2, c_in, h, w, device="meta"), torch.zeros(2, device="meta"))
    except NotImplementedError:
        pass  # an op without a meta kernel: the shape check is skipped, nothing else is lost
    except (Exception, preflight.TookTooLong) as exc:  # the options built a model that cannot take this data
        raise RecipeError(
            [
                f"model: backbone {model_name!r} cannot take inputs of shape {(2, c_in, h, w)}: "
                f"{_one_line(exc)}"
            ]
        ) from None
    else:
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, c_out, h, w):
            found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RecipeError([f"model: {model_name} returns {found}, expected {(2, c_out, h, w)}"])
    parameters = count_parameters(model)
    memory = preflight.memory_problems(
        recipe,
        preflight.sample_bytes(sample),
        parameters,
        preflight.available_memory(device),
        where="GPU memory" if device.type == "cuda" else "memory",
    )
    if memory:
        raise RecipeError(memory)
    return {
        "parameters": parameters,
        "channels": (c_in, c_out),
        "sample_shape": tuple(sample[key].shape),
        "splits": {name: len(ds) for name, ds in splits.items()},
    }


def _build_and_read(
    recipe: Recipe, registry: Registry, world_size: int
) -> tuple[nn.Module, dict[str, Any], dict[str, Any], tuple[int, int]]:
    """The task and the backbone (on the meta device) built, the splits checked, sample 0 read."""
    task_name, model_name = recipe.task.name, recipe.model.name
    task = _attempt(
        "task",
        f"cannot build task {task_name!r}",
        lambda: registry.get("task", task_name).build(recipe.task.options, recipe=recipe, registry=registry),
    )
    c_in, c_out = _attempt("task", f"task {task_name!r} cannot give its channels", task.channels)
    backbone = registry.get("backbone", model_name)
    with torch.device("meta"):
        model = _attempt(
            "model",
            f"cannot build backbone {model_name!r} from these options",
            lambda: backbone.build(recipe.model.options, in_channels=c_in, out_channels=c_out),
        )
    if recipe.init is not None:  # the source's tensors against the model's shapes (meta tensors have them)
        source = init_from.find_source(recipe.init)
        init_from.check(recipe.init, source, init_from.match(model, source.tensors))
    splits = _attempt("data", f"cannot open the splits of dataset {recipe.data.name!r}", task.datasets)
    problems = preflight.split_problems(recipe, splits, world_size)
    if problems:
        raise RecipeError(problems)
    sample = _attempt("data", "cannot read sample 0 of the train split", lambda: splits["train"][0])
    return model, splits, sample, (c_in, c_out)


T = TypeVar("T")


def _attempt(section: str, what: str, build: Callable[[], T]) -> T:
    """``build()``, with any failure turned into one report line under ``section``."""
    try:
        return build()
    except RecipeError:
        raise
    except (
        Exception,
        preflight.TookTooLong,
    ) as exc:  # a component's crash on its options is a recipe problem
        if isinstance(exc, preflight.TookTooLong):
            raise RecipeError(
                [
                    f"{section}: {what}: {exc} (a size or count far too large? DVCORE_VALIDATE_TIMEOUT "
                    "allows longer)"
                ]
            ) from None
        if preflight.is_out_of_memory(exc):
            available = preflight.available_memory("cpu")
            room = f" ({preflight.gib(available)} available)" if available is not None else ""
            raise RecipeError([f"{section}: {what}: needs more memory than is available{room}"]) from None
        raise RecipeError([f"{section}: {what}: {_one_line(exc)}"]) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:300] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


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


def _prepare_run_dir(
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
    prepared = _prepare_run_dir(recipe, registry, run_dir, resume, restart) if dist_info.is_main else None
    run_dir = distributed.broadcast(prepared[0] if prepared else None, dist_info)
    latest = prepared[1] if prepared else None
    if resume and not dist_info.is_main:
        latest = checkpoint.load_latest(run_dir / "checkpoints")

    try:
        components, trainer, tracker = _set_up(recipe, registry, run_dir, latest, dist_info, device, progress)
    except RecipeError:
        raise
    except Exception as exc:  # e.g. out of memory building the model, a tracker that cannot open its repo
        error = _one_line(exc)
        step = latest[2].get("step", 0) if latest else 0
        log = _error_log(run_dir, dist_info.is_main)
        if dist_info.is_main and rundir.is_run(run_dir):
            _write_summary(
                run_dir,
                {
                    "experiment": recipe.experiment,
                    "run_dir": str(run_dir),
                    "status": "failed",
                    "error": error,
                    "steps": step,
                },
            )
        raise RunFailed(error, step, log) from exc

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
        status, error = "failed", _one_line(exc)
        raise RunFailed(error, trainer.step, _error_log(run_dir, dist_info.is_main)) from exc
    finally:
        interrupted = False
        try:
            tracker.close()
        except KeyboardInterrupt:  # a second signal while the tracker flushed: the summary still comes
            interrupted = True
            if status == "completed":
                status, error = "stopped", "interrupted while closing the tracker"
        except Exception as exc:
            if status == "completed":
                status, error = "failed", f"closing the tracker: {_one_line(exc)}"
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
                [f"{path}: does not fit the run's recipe ({_one_line(exc)}); nothing was changed"]
            ) from None
    if dist_info.is_main:
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
            resume_id=latest[2].get("tracker_run_id") if latest else None,
            description=recipe.description,
            tags=(recipe.experiment, *recipe.tags),
        )
        tracker = registry.get("tracker", recipe.tracker.name).build(recipe.tracker.options, run=tracker_info)
    else:
        tracker = Tracker()
    trainer.tracker = tracker
    if latest is not None:
        if dist_info.is_main:
            print(f"dvcore: resumed from {latest[0]} (step {trainer.step})", file=sys.stderr)
    else:
        init_hparams = {"init_provenance": init_record} if init_record else {}
        tracker.log_hparams({**recipes.to_dict(recipe, registry), **provenance(registry), **init_hparams})
        tracker.log_text("recipe", recipes.to_toml(recipe, registry))

    return components, trainer, tracker


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
        return {"task_summary_error": _one_line(exc)}


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
