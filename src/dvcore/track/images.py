"""Image grids for trackers: tensors in, one (3, H, W) picture out."""

from __future__ import annotations

import math

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


def image_grid(images: torch.Tensor) -> torch.Tensor:
    """(K, C, H, W) in [0, 1] -> a near-square (3, H', W') grid, grey images as RGB."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return grid(images, nrow=math.ceil(math.sqrt(images.shape[0])))


def loss_curve_image(centres: torch.Tensor, means: torch.Tensor, title: str) -> torch.Tensor:
    """Loss per bucket of training steps, drawn with matplotlib (Agg, no display): (3, H, W) in [0, 1]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.2), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    keep = torch.isfinite(means)
    ax.plot(centres[keep].numpy(), means[keep].numpy(), marker="o")
    if bool(keep.any()) and bool((means[keep] > 0).all()):
        ax.set_yscale("log")
    ax.set_xlabel("training step t")
    ax.set_ylabel("mean loss")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    canvas.draw()  # type: ignore[no-untyped-call]  # matplotlib's Agg canvas is untyped
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)  # type: ignore[no-untyped-call]
    h, w = canvas.get_width_height()[::-1]
    return rgba.reshape(h, w, 4)[..., :3].permute(2, 0, 1).float() / 255  # (3, H, W)
