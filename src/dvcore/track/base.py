"""The tracker contract: hparams, scalars, images, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import torch


@attrs.frozen
class RunInfo:
    """What a tracker needs to know about the run it records."""

    experiment: str
    name: str
    directory: Path
    runs_root: Path
    resume_id: str | None = None  # the tracker's own id of the run to continue, if resuming
    description: str | None = None  # what the run is for (the recipe's header comment)
    tags: tuple[str, ...] = ()  # labels to browse many runs by: the experiment, a sweep and its varied keys


class Tracker:
    """Records a run. Every method may be called on rank 0 only; all are cheap to call."""

    run_id: str | None = None  # the tracker's id for this run (stored in the run directory for resume)

    def log_hparams(self, hparams: dict[str, Any]) -> None:
        pass

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None:
        pass

    def log_images(self, images: dict[str, torch.Tensor], step: int, context: str = "eval") -> None:
        """name -> (3, H, W) float in [0, 1]."""

    def log_file(self, path: Path, name: str | None = None) -> None:
        pass

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """A text record (e.g. the resolved recipe, a comparison table)."""

    def close(self) -> None:
        pass
