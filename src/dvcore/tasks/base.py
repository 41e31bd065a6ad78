"""The task contract: what a batch teaches the model, and how the model is scored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import torch
from torch import nn


@attrs.define
class EvalResult:
    """Scores (``"<predictor>/<metric>"`` -> value) and image grids (name -> (3, H, W) in [0, 1])."""

    scores: dict[str, float]
    images: dict[str, torch.Tensor] = attrs.field(factory=dict)


class Task:
    """A task turns batches into a loss and scores a model on held-out batches.

    The task decides the backbone's input and output channels (``channels``) from
    its data, so any backbone serves any task through ``forward(x, t)``.
    """

    def channels(self) -> tuple[int, int]:
        """(in_channels, out_channels) the backbone must have."""
        raise NotImplementedError

    def datasets(self) -> dict[str, Any]:
        """The splits: {"train": ..., "eval": ...} map-style datasets."""
        raise NotImplementedError

    def training_loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """One micro-batch -> (scalar loss, extra scalars to log)."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> EvalResult:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """JSON-able training state the task keeps (e.g. importance-sampling history); saved in
        checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        """Facts for summary.json at the end of a run: by default, corrupt files skipped per split."""
        counts = {s: ds.num_corrupt for s, ds in self.datasets().items() if hasattr(ds, "num_corrupt")}
        return {"corrupt_files": counts} if counts else {}
