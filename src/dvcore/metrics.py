"""The metric contract: update on batches, compute at the end.

Metrics are components of kind ``metric`` (the dvcore-metrics plugin supplies
psnr, ssim, ...); tasks use them only through the registry.
"""

from __future__ import annotations

import torch


class Metric:
    """Accumulates a score over batches.

    ``update(pred, target)`` takes two batches [B, C, H, W] with values in [0, 1]
    and returns the per-sample values [B] when the metric has them (None for
    set-level metrics such as FID). ``compute()`` returns the score so far.
    """

    name: str = "metric"
    higher_is_better: bool = True

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError


class MeanMetric(Metric):
    """A metric defined per sample and averaged over samples (PSNR, SSIM, ...)."""

    def __init__(self) -> None:
        self.reset()

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Values for each sample: [B, C, H, W] x2 -> [B] (float64 recommended)."""
        raise NotImplementedError

    def reset(self) -> None:
        self._sum = 0.0
        self._count = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        values = self.per_sample(pred, target)  # (B,)
        self._sum += float(values.double().sum())
        self._count += values.numel()
        return values

    def compute(self) -> float:
        return self._sum / self._count if self._count else float("nan")
