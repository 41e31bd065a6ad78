"""Timestep embeddings shared by the backbones."""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of float timesteps (Vaswani et al. 2017, as used by DDPM).

    t: (B,) float -> (B, dim); the first half is cos, the second sin, frequencies
    spaced geometrically from 1 to 1/max_period.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, 2*half)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)  # (B, dim)
    return emb


class TimestepEmbedder(nn.Module):
    """Sinusoidal features of t followed by a two-layer MLP."""

    def __init__(self, dim: int, frequency_dim: int = 256):
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        dtype = next(self.mlp.parameters()).dtype  # the first Linear's weight
        out: torch.Tensor = self.mlp(timestep_embedding(t, self.frequency_dim).to(dtype))  # (B, dim)
        return out


# ----------------------------------------------------------------------------------------------
# Fixed sin-cos positions (Vaswani et al. 2017 in 1-D; MAE and DiT in 2-D)
# ----------------------------------------------------------------------------------------------


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(M,) positions -> (M, dim) float64: [sin(pos * w_k), cos(pos * w_k)], w_k = 10000^(-k / (dim/2)).

    An odd ``dim`` gets a last column of zeros.
    """
    half = dim // 2
    omega = 1.0 / 10_000 ** (torch.arange(half, dtype=torch.float64) / max(half, 1))  # (dim/2,)
    angles = positions.to(torch.float64)[:, None] * omega[None]  # (M, dim/2)
    pad = torch.zeros(len(positions), dim - 2 * half, dtype=torch.float64)  # (M, dim % 2)
    return torch.cat([torch.sin(angles), torch.cos(angles), pad], dim=1)  # (M, dim)


def sincos_2d(dim: int, h: int, w: int, *, column_first: bool = True) -> torch.Tensor:
    """(h*w, dim) float64 positions of a row-major h x w grid: one axis in each half of the dims.

    ``column_first`` (the default) puts the column in the first dim // 2 dims and the row in
    the rest, DiT's and MAE's order (their meshgrid puts w first), so a checkpoint's positions
    agree with theirs on square grids; ``False`` puts the row first.
    """
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")  # (h, w) each
    first, second = (cols, rows) if column_first else (rows, cols)
    return torch.cat(
        [sincos_1d(dim // 2, first.flatten()), sincos_1d(dim - dim // 2, second.flatten())], dim=1
    )
