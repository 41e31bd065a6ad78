"""example_convnet: a residual conv net; t enters as a per-channel shift of every block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dvcore.api import TimestepEmbedder
from dvcore_example.options import ConvNetOptions


class ConvNet(nn.Module):
    """conv in, ``depth`` residual convs shifted by the embedding of t, conv out."""

    def __init__(self, options: ConvNetOptions, in_channels: int, out_channels: int):
        super().__init__()
        w = options.width
        self.conv_in = nn.Conv2d(in_channels, w, 3, padding=1)
        self.time = TimestepEmbedder(w)
        self.blocks = nn.ModuleList(nn.Conv2d(w, w, 3, padding=1) for _ in range(options.depth))
        self.conv_out = nn.Conv2d(w, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)  # (B, W, H, W)
        shift = self.time(t).to(h.dtype)[:, :, None, None]  # (B, W, 1, 1)
        for conv in self.blocks:
            h = h + conv(F.silu(h + shift))  # (B, W, H, W)
        return self.conv_out(F.silu(h))  # (B, C_out, H, W)


def build_convnet(options: ConvNetOptions, *, in_channels: int, out_channels: int) -> ConvNet:
    """A residual conv net conditioned on t."""
    return ConvNet(options, in_channels, out_channels)
