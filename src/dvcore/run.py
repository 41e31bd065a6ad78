"""A run, from a validated recipe to a run directory with checkpoints and a summary.

recipe -> components (task, data, backbone, loss, metrics, tracker) -> trainer -> tracker.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from dvcore import recipe as recipes
from dvcore.recipe import Recipe, RecipeError
from dvcore.registry import Registry
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.base import RunInfo, Tracker
from dvcore.train import checkpoint, distributed
from dvcore.train.trainer import Trainer

RECIPE_FILE = "recipe.toml"
SUMMARY_FILE = "summary.json"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def validate(recipe: Recipe, registry: Registry) -> dict[str, Any]:
    """Build every component without training: the model on the meta device, one sample read per split.

    Runs the backbone once on a meta tensor of the data's shape to check that its
    output has the shape the task expects. Returns facts for the user.
    """
    components = build_components(recipe, registry, device="meta")
    if recipe.train.grad_checkpointing and not any(
        hasattr(m, "grad_checkpointing") for m in components.model.modules()
    ):
        raise RecipeError([f"train.grad_checkpointing: backbone {recipe.model.name!r} does not support it"])
    splits = components.task.datasets()
    sample = splits["train"][0]
    key = "frames" if "frames" in sample else "image"
    h, w = sample[key].shape[-2:]
    c_in, c_out = components.task.channels()
    try:
        out = components.model(torch.empty(2, c_in, h, w, device="meta"), torch.zeros(2, device="meta"))
        if tuple(out.shape) != (2, c_out, h, w):
            raise RecipeError(
                [f"model: {recipe.model.name} returns {tuple(out.shape)}, expected {(2, c_out, h, w)}"]
            )
    except NotImplementedError:
        pass  # an op without a meta kernel: the shape check is skipped, nothing else is lost
    return {
        "parameters": count_parameters(components.model),
        "channels": (c_in, c_out),
        "sample_shape": tuple(sample[key].shape),
        "splits": {name: len(ds) for name, ds in splits.items()},
    }


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
    """Git commit of the working tree (when in one) and versions of the distributions that registered components."""
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


def execute(
    recipe: Recipe,
    registry: Registry,
    *,
    run_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a recipe in a run directory; returns the summary written to summary.json.

    Under torchrun every process calls this; rank 0 names the run directory, tracks
    and writes checkpoints, and every rank resumes from the same checkpoint.
    """
    device = resolve_device(recipe.device)
    dist_info = distributed.init(device)
    device = distributed.device_for(dist_info, device)
    run_dir = distributed.broadcast(new_run_dir(recipe, run_dir) if dist_info.is_main else None, dist_info)
    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RECIPE_FILE).write_text(recipes.to_toml(recipe, registry))
    distributed.barrier(dist_info)

    seed_everything(recipe.seed)
    components = build_components(recipe, registry)  # identical weights on every rank
    if dist_info.rank > 0:
        # Other ranks draw their own noise (diffusion timesteps and noise must differ per shard).
        seed_everything(recipe.seed + 7919 * dist_info.rank)
    latest = checkpoint.load_latest(run_dir / "checkpoints") if resume else None
    if dist_info.is_main:
        tracker_info = RunInfo(
            experiment=recipe.experiment,
            name=run_dir.name,
            directory=run_dir,
            runs_root=Path(recipe.runs_root),
            resume_id=latest[2].get("tracker_run_id") if latest else None,
        )
        tracker = registry.get("tracker", recipe.tracker.name).build(recipe.tracker.options, run=tracker_info)
    else:
        tracker = Tracker()
    trainer = Trainer(
        recipe,
        components.task,
        components.model,
        run_dir=run_dir,
        tracker=tracker,
        device=device,
        progress=progress,
        dist_info=dist_info,
    )
    if latest is not None:
        path, tensors, state = latest
        trainer.restore(tensors, state)
        if dist_info.is_main:
            print(f"dvcore: resumed from {path} (step {trainer.step})", file=sys.stderr)
    else:
        tracker.log_hparams({**recipes.to_dict(recipe, registry), **provenance(registry)})

    started = time.perf_counter()
    try:
        result: EvalResult = trainer.fit()
    finally:
        tracker.close()
    summary = {
        "experiment": recipe.experiment,
        "run_dir": str(run_dir),
        "steps": trainer.step,
        "skipped_steps": trainer.skipped_steps,
        "train_seconds": round(time.perf_counter() - started, 2),
        "parameters": count_parameters(components.model),
        "world_size": dist_info.world_size,
        "tracker_run_id": tracker.run_id,
        "eval": result.scores,
        **components.task.summary(),
    }
    if dist_info.is_main:
        (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary
