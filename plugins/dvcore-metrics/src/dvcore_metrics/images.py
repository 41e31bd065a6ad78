"""Checks and conversions shared by the image metrics: shape agreement, uint8 rounding."""

from __future__ import annotations

import torch


def check_image_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Raise ValueError unless pred and target are two batches [B, C, H, W] of the same shape."""
    if pred.ndim != 4:
        raise ValueError(f"expected pred of shape [B, C, H, W], got {list(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"expected target of pred's shape {list(pred.shape)}, got {list(target.shape)}")


def quantize_uint8(x: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Round to the 256 levels an 8-bit image can hold: round(x / L * 255), clamped to [0, 255], * L / 255.

    Ties round to even (torch.round), as numpy does when writing an image with ``np.round``.
    """
    levels = (x * (255.0 / data_range)).round().clamp(0.0, 255.0)  # same shape as x
    return levels * (data_range / 255.0)
