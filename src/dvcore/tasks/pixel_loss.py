"""Regression losses between a predicted image and its target."""

from __future__ import annotations

from typing import Literal

import attrs
import torch
import torch.nn.functional as F

from dvcore.options import gt, opt


@attrs.frozen
class PixelLossOptions:
    """A distance between prediction and target, reduced over the image or per patch."""

    distance: Literal["mse", "l1", "huber", "charbonnier"] = opt("mse", "per-pixel distance")
    huber_delta: float = opt(0.1, "huber: quadratic below this error, linear above", gt(0))
    charbonnier_eps: float = opt(1e-3, "charbonnier: sqrt(err^2 + eps^2)", gt(0))
    reduction: Literal["image", "patch"] = opt(
        "image",
        "image: mean over all pixels; patch: each patch_size block is a separate term, summed over the "
        "blocks of an image (docs/lab_notes.md §I3; for mse it scales the image loss by the "
        "number of blocks)",
    )
    patch_size: int = opt(8, "block size for reduction = 'patch'", gt(0))


class PixelLoss:
    kind = "regression"

    def __init__(self, options: PixelLossOptions):
        self.options = options

    def per_pixel(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        o = self.options
        if o.distance == "mse":
            return (pred - target) ** 2
        if o.distance == "l1":
            return (pred - target).abs()
        if o.distance == "huber":
            return F.huber_loss(pred, target, reduction="none", delta=o.huber_delta)
        return torch.sqrt((pred - target) ** 2 + o.charbonnier_eps**2)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        err = self.per_pixel(pred, target)  # (B, C, H, W)
        if self.options.reduction == "image":
            return err.mean()
        p = self.options.patch_size
        per_block = F.avg_pool2d(err.mean(1, keepdim=True), p, stride=p, ceil_mode=True)  # (B, 1, H/p, W/p)
        return per_block.flatten(1).sum(1).mean()


def build_pixel_loss(options: PixelLossOptions) -> PixelLoss:
    """Regression loss between the predicted and the true image (mse, l1, huber, charbonnier)."""
    return PixelLoss(options)
