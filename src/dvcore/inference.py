"""Load a trained run for inference: its recipe, its components, its weights.

Everything the run fixed (image size, channels, prediction type, schedule) is read
from the run directory's resolved recipe, so training and sampling cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from dvcore import recipe as recipes
from dvcore.data.splits import only_splits
from dvcore.errors import RecipeError
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.run import RECIPE_FILE, build_components
from dvcore.tasks.base import Task
from dvcore.train import checkpoint


@attrs.define
class LoadedRun:
    run_dir: Path
    recipe: Recipe
    task: Task
    model: nn.Module
    step: int
    weights: str  # "ema" or "model"


def load_run(
    run_dir: Path,
    registry: Registry,
    *,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    overrides: tuple[str, ...] = (),
    data: dict[str, Any] | None = None,
    splits: tuple[str, ...] = ("eval",),
) -> LoadedRun:
    """The run's task and model with the newest verified checkpoint's weights.

    ``ema``: True = the EMA weights (an error if the run kept none), False = the raw
    weights, None = EMA when the checkpoint has it. ``data`` replaces the recipe's data
    section and ``overrides`` (``key.path=value``) apply after it, so a run can be scored
    on other data; the task offers only ``splits`` (evaluation never needs the train split).
    """
    run_dir = Path(run_dir)
    if not (run_dir / RECIPE_FILE).exists():
        raise RecipeError([f"{run_dir}: not a run directory (no {RECIPE_FILE})"])
    with only_splits(*splits):  # the data's own checks ask only for these splits too
        recipe = recipes.load(
            run_dir / RECIPE_FILE, overrides, registry, replace={"data": data} if data else None
        )
    latest = checkpoint.load_latest(run_dir / "checkpoints")
    if latest is None:
        raise RecipeError([f"{run_dir}: no usable checkpoint in {run_dir / 'checkpoints'}"])
    _, tensors, state = latest
    if ema and "ema" not in tensors:
        raise RecipeError([f"{run_dir}: --ema requested, but the run kept no EMA (train.ema unset)"])
    use_ema = "ema" in tensors if ema is None else ema
    with only_splits(*splits):
        components = build_components(recipe, registry)
    try:
        components.model.load_state_dict(tensors["ema" if use_ema else "model"])
    except RuntimeError as exc:  # overrides changed the model's shape
        first = str(exc).strip().splitlines()[0]
        raise RecipeError(
            [f"{run_dir}: the checkpoint's weights do not fit the model as overridden: {first}"]
        ) from None
    model = components.model.to(device).eval()
    return LoadedRun(run_dir, recipe, components.task, model, state["step"], "ema" if use_ema else "model")
