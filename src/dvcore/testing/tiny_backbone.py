"""``TinyBackbone``: the small conditional conv net the kit drives losses, samplers and tasks with."""

from __future__ import annotations

import torch
from torch import nn

from dvcore.nn.embeddings import timestep_embedding

Tensor = torch.Tensor


class TinyBackbone(nn.Module):
    """A small conditional conv net the kit drives losses, samplers and tasks with (t enters by FiLM)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 8):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.film = nn.Linear(16, 2 * width)
        self.conv_out = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        scale, shift = self.film(timestep_embedding(t, 16).to(x.dtype)).chunk(2, dim=1)  # (B, width) x2
        hidden = torch.nn.functional.silu(self.conv_in(x))  # (B, width, H, W)
        hidden = hidden * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        out: Tensor = self.conv_out(hidden)  # (B, C_out, H, W)
        return out
