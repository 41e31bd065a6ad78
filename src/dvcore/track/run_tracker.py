"""Adding images and scores to a finished run's own tracker run (movies, loss curves, scores computed
afterwards)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from dvcore.registry import Registry
from dvcore.track.base import RunInfo, Tracker


def log_images_to_run(
    run: Any,
    images: Sequence[dict[str, torch.Tensor]],
    where: Sequence[tuple[str, int]],
    registry: Registry,
) -> None:
    """Log ``images[k]`` at (context, step) ``where[k]`` into the tracker run of a loaded run.

    The tracker run is the one training wrote to (its id is in summary.json), so the new images
    sit beside the run's own metrics.
    """
    tracker = _open(run, registry)
    try:
        for batch, (context, step) in zip(images, where, strict=True):
            tracker.log_images(batch, step, context=context)
    finally:
        tracker.close()


def log_scalars_to_run(
    run: Any, values: dict[str, float], step: int, context: str, registry: Registry
) -> None:
    """Log ``values`` at ``step`` under ``context`` into the tracker run of a loaded run."""
    tracker = _open(run, registry)
    try:
        tracker.log_scalars(values, step, context=context)
    finally:
        tracker.close()


def _open(run: Any, registry: Registry) -> Tracker:
    """The tracker of a loaded run, continuing the tracker run training wrote to."""
    summary_path = run.run_dir / "summary.json"
    run_id = json.loads(summary_path.read_text()).get("tracker_run_id") if summary_path.exists() else None
    info = RunInfo(run.recipe.experiment, run.run_dir.name, run.run_dir, Path(run.recipe.runs_root), run_id)
    component = registry.get("tracker", run.recipe.tracker.name)
    tracker: Tracker = component.build(run.recipe.tracker.options, run=info)
    return tracker
