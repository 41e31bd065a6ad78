"""The DDPM UNet of the lab notes (docs/lab_notes.md §G), built from its level schema.

Time-conditioned residual blocks (GroupNorm, SiLU, scale-shift by the time embedding),
self-attention through SDPA at the levels the schema flags, a skip from every down level to
the up level that mirrors it. See ``dvcore_unet.options`` for how the schema maps to
levels and resolutions. The blocks come from ``dvcore.nn.blocks``.

Departures from the lab notebook's code, on purpose:

- A full-resolution skip: the notebook's network ended at H/2 and upsampled once in its head,
  with no skip at the input size (lab notes §G8: grainy output). Here a final up level
  mirrors down level 0 and concatenates its full-size features.
- Time conditioning by scale and shift of the second GroupNorm (Dhariwal & Nichol 2021)
  instead of adding a bias after the first conv; the residual branch ends in a zeroed conv.
- Float timesteps go into the sinusoidal embedding as they are (the notebook cast them to long).
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from dvcore.api import raise_problems
from dvcore.nn import (
    Downsample,
    ResStack,
    TimestepEmbedder,
    Upsample,
    check_halvable,
    group_norm,
    zero_residual_branches,
)
from dvcore_unet.options import UNetOptions

# ----------------------------------------------------------------------------------------------
# Levels
# ----------------------------------------------------------------------------------------------


def make_level(
    in_channels: int, out_channels: int, num_blocks: int, attention: bool, o: UNetOptions
) -> ResStack:
    """Res blocks at one resolution (the first maps in -> out), each followed by attention if on."""
    return o.res_stack(in_channels, out_channels, num_blocks=num_blocks, attention=attention)


class UpLevel(nn.Module):
    """Upsample 2x, concatenate the mirrored down level's skip, then res blocks (+ attention)."""

    def __init__(
        self, in_channels: int, skip_channels: int, out_channels: int, attention: bool, o: UNetOptions
    ):
        super().__init__()
        self.upsample = Upsample(in_channels)
        self.level = make_level(in_channels + skip_channels, out_channels, o.num_res_blocks, attention, o)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.upsample(x), skip], dim=1)  # (B, C_in + C_skip, 2H, 2W)
        return self.level(x, emb)  # (B, C_out, 2H, 2W)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class UNet(nn.Module):
    """Diffusion UNet: forward(x (B, C_in, H, W), t (B,)) -> (B, C_out, H, W)."""

    def __init__(self, options: UNetOptions, *, in_channels: int, out_channels: int):
        super().__init__()
        raise_problems("unet", options.problems())
        o = options.expand()
        ch = o.channels
        down, mid, up = o.down_channel_indices, o.mid_channel_indices, o.up_channel_indices
        o = attrs.evolve(o, time_embed_dim=o.time_embed_dim or 4 * ch[down[0][0]])
        self.options = o
        self.num_downsamplings = len(down)

        self.time_embed = TimestepEmbedder(o.time_embed_dim)
        self.stem = nn.Conv2d(in_channels, ch[down[0][0]], 3, padding=1)
        self.down_levels = nn.ModuleList(
            make_level(ch[i], ch[j], o.num_res_blocks, a, o)
            for (i, j), a in zip(down, o.down_attn, strict=True)
        )
        self.downsamples = nn.ModuleList(Downsample(ch[j]) for _, j in down)
        self.mid_levels = nn.ModuleList(
            make_level(ch[i], ch[j], 1, a, o) for (i, j), a in zip(mid, o.mid_attn, strict=True)
        )
        # Up level j takes the skip of down level n-1-j; the last, implicit one mirrors down level 0.
        ups = [(i, down[-1 - k][1], j, a) for k, ((i, j), a) in enumerate(zip(up, o.up_attn, strict=True))]
        last = up[-1][1] if up else (mid[-1][1] if mid else down[-1][1])
        ups.append((last, down[0][1], down[0][0], False))
        self.up_levels = nn.ModuleList(UpLevel(ch[i], ch[s], ch[j], a, o) for i, s, j, a in ups)
        self.head = nn.Sequential(
            group_norm(ch[down[0][0]], o.norm_groups),
            nn.SiLU(),
            nn.Conv2d(ch[down[0][0]], out_channels, 3, padding=1),
        )
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Zero the last layer of every residual branch and the output conv.

        Each res block then starts as its skip path and each attention block as the identity,
        and the model predicts zero: the network begins as a well-conditioned shallow path
        and grows its branches (as in Ho et al. 2020 and Dhariwal & Nichol 2021).
        """
        zero_residual_branches(self)
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_halvable(x, self.num_downsamplings, "UNet")
        emb = self.time_embed(t)  # (B, E)
        h = self.stem(x)  # (B, C_0, H, W)
        skips = []
        for level, downsample in zip(self.down_levels, self.downsamples, strict=True):
            h = level(h, emb)  # (B, C_i, H/2^i, W/2^i)
            skips.append(h)
            h = downsample(h)  # (B, C_i, H/2^(i+1), W/2^(i+1))
        for level in self.mid_levels:
            h = level(h, emb)  # (B, C_mid, H/2^n, W/2^n)
        for level in self.up_levels:
            h = level(h, skips.pop(), emb)  # (B, C_j, 2h, 2w)
        return self.head(h)  # (B, C_out, H, W)


def build_unet(options: UNetOptions, *, in_channels: int, out_channels: int) -> UNet:
    """DDPM UNet with the lab notes' level schema (explicit or compact)."""
    return UNet(options, in_channels=in_channels, out_channels=out_channels)
