"""The two naive guesses of the middle frame: copy a neighbour, or average the two neighbours."""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def copy_baseline(context: Tensor) -> Tensor:
    """The nearest context frame before the middle one: (B, N-1, C, H, W) -> (B, C, H, W)."""
    return context[:, context.shape[1] // 2 - 1]  # (B, C, H, W)


def blend_baseline(context: Tensor) -> Tensor:
    """The mean of the two frames next to the middle one: (B, N-1, C, H, W) -> (B, C, H, W)."""
    k = context.shape[1] // 2
    return 0.5 * (context[:, k - 1] + context[:, k])  # (B, C, H, W)
