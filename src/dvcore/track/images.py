"""Image grids for trackers: tensors in, one (3, H, W) picture out."""

from __future__ import annotations

import numpy as np
import torch


def grid(images: torch.Tensor, nrow: int, pad: int = 1, value: float = 1.0) -> torch.Tensor:
    """(K, C, H, W) -> (C, rows*(H+pad)+pad, nrow*(W+pad)+pad), filled row by row."""
    k, c, h, w = images.shape
    rows = (k + nrow - 1) // nrow
    out = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), value, dtype=images.dtype)
    for i in range(k):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[:, y : y + h, x : x + w] = images[i]
    return out


def clip_grid(rows: torch.Tensor) -> torch.Tensor:
    """(R, K, C, H, W): one row per clip, K panels each -> (3, H', W') grid in [0, 1]."""
    r, k, c, h, w = rows.shape
    panels = rows.reshape(r * k, c, h, w).float().clamp(0, 1)
    if c == 1:
        panels = panels.expand(-1, 3, -1, -1)
    return grid(panels, nrow=k)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
