"""Export a trained run to another library's format (``dvcore export RUN --format NAME OUT``).

The core knows no format: an exporter is a component of kind ``exporter`` registered by a
plugin (``dvcore-diffusers`` registers ``diffusers``). The core loads the run (its resolved
recipe and the newest verified checkpoint, the EMA weights when the run kept them), describes
it as an ``ExportSource`` and hands that to the exporter, which writes into a fresh
directory. The directory is written beside OUT and renamed into place at the end, so OUT is
either complete or absent; an existing OUT is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from dvcore.errors import RecipeError
from dvcore.recipe import Recipe
from dvcore.registry import Registry, unknown_name_message


@dataclass(frozen=True)
class ExportSource:
    """A trained run, as an exporter sees it (everything on the CPU)."""

    run_dir: Path
    recipe: Recipe
    model: nn.Module  # the backbone with the exported weights, eval mode
    weights: str  # "ema" or "model"
    step: int  # optimizer steps the weights were trained for
    channels: tuple[int, int]  # (in, out) of the backbone
    image_shape: tuple[int, ...] | None  # (C, H, W) of the data the run generates; None if not generative
    schedule: Any  # dvcore.diffusion.schedules.Schedule, or None for a regression run
    sampler: Any  # the recipe's sampler (``.name``, ``.options``), or None
    prediction_type: str | None  # "eps" / "x0" / "v", or None for a regression run


class Exporter(Protocol):
    """Registry kind ``exporter``: ``factory(options) -> Exporter``.

    ``export(source, out)`` writes the run into the directory ``out`` (which exists and is
    empty). It raises ``RecipeError`` (one line per problem) for a run the format cannot
    hold, e.g. a backbone with no counterpart in the target library.
    """

    def export(self, source: ExportSource, out: Path) -> None: ...


def describe(run_dir: Path, registry: Registry, *, ema: bool | None = None) -> ExportSource:
    """Load a run directory into an ``ExportSource``."""
    from dvcore.inference import load_run

    loaded = load_run(run_dir, registry, ema=ema, device="cpu")
    diffusion = getattr(loaded.task, "diffusion", None)  # the diffusion tasks' schedule/sampler/target
    image_shape = getattr(loaded.task, "image_shape", None)
    return ExportSource(
        run_dir=Path(run_dir),
        recipe=loaded.recipe,
        model=loaded.model,
        weights=loaded.weights,
        step=loaded.step,
        channels=loaded.task.channels(),
        image_shape=tuple(image_shape) if image_shape is not None else None,
        schedule=diffusion.schedule if diffusion is not None else None,
        sampler=diffusion.sampler if diffusion is not None else None,
        prediction_type=diffusion.prediction_type if diffusion is not None else None,
    )


def export_run(
    run_dir: Path, fmt: str, out: Path, registry: Registry, *, ema: bool | None = None
) -> ExportSource:
    """Export ``run_dir`` as ``fmt`` into the new directory ``out``; returns what was exported."""
    out = Path(out)
    if out.exists():
        raise RecipeError([f"{out}: already exists; export writes a new directory and never overwrites"])
    if ("exporter", fmt) not in registry:
        raise RecipeError([f"--format: {unknown_name_message('exporter', fmt, registry.names('exporter'))}"])
    exporter = registry.get("exporter", fmt).build()
    source = describe(Path(run_dir), registry, ema=ema)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with torch.no_grad():
            exporter.export(source, staging)
        staging.rename(out)  # atomic on one filesystem; fails rather than replace a new OUT
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return source
