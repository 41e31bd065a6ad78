"""example_mae: the mean absolute error of each image, averaged over images."""

from __future__ import annotations

import torch

from dvcore.api import MeanMetric
from dvcore_example.options import MAEOptions


class MAE(MeanMetric):
    """Mean |pred - target| per image (in 8-bit levels by default); lower is better."""

    name = "example_mae"  # scores are reported as "<predictor>/example_mae"
    higher_is_better = False

    def __init__(self, options: MAEOptions):
        self.options = options
        super().__init__()

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = (pred.double() - target.double()).abs()  # (B, C, H, W)
        return self.options.scale * error.flatten(1).mean(dim=1)  # (B,)


def build_mae(options: MAEOptions) -> MAE:
    """Mean absolute error per image, averaged over images."""
    return MAE(options)
