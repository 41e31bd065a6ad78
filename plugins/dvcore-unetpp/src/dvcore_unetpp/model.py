"""UNet++ (Zhou et al. 2018, arXiv:1807.10165) adapted to diffusion.

The encoder is the column X^{i,0}; every other node X^{i,j} sees all earlier nodes of its
row and the upsampled node below-left (the paper's eq. 1):

    X^{i,0} = H(D(X^{i-1,0}))
    X^{i,j} = H([X^{i,0}, ..., X^{i,j-1}, U(X^{i+1,j-1})])    for j >= 1

Here H is a stack of time-conditioned res blocks (GroupNorm, SiLU, scale-shift by the
time embedding; attention on the rows that ask for it), D a stride-2 conv and U a
nearest-neighbour upsample followed by a 3x3 conv. The output is a head on X^{0,L}, or with
``deep_supervision`` the mean of 1x1 heads on X^{0,1..L}; the backbone contract has one
output, so the paper's separate losses per head become one loss on their average.
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
from dvcore_unetpp.options import UNetPPOptions

# ----------------------------------------------------------------------------------------------
# Heads
# ----------------------------------------------------------------------------------------------


class Head(nn.Module):
    """GroupNorm, SiLU, then a conv to the output channels."""

    def __init__(self, channels: int, out_channels: int, kernel_size: int, groups: int):
        super().__init__()
        self.norm = group_norm(channels, groups)
        self.conv = nn.Conv2d(channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.silu(self.norm(x)))  # (B, C_out, H, W)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


def node_key(i: int, j: int) -> str:
    return f"x{i}_{j}"


class UNetPP(nn.Module):
    """Diffusion UNet++: forward(x (B, C_in, H, W), t (B,)) -> (B, C_out, H, W)."""

    def __init__(self, options: UNetPPOptions, *, in_channels: int, out_channels: int):
        super().__init__()
        raise_problems("unetpp", options.problems())
        o = attrs.evolve(options, time_embed_dim=options.time_embed_dim or 4 * options.channels[0])
        self.options = o
        L, ch = o.depth, o.channels
        self.depth = L

        def node(in_channels: int, i: int) -> ResStack:
            return o.res_stack(in_channels, ch[i], num_blocks=o.num_res_blocks, attention=o.attn[i])

        self.time_embed = TimestepEmbedder(o.time_embed_dim)
        self.stem = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.downsamples = nn.ModuleList(Downsample(ch[i]) for i in range(L))  # row i -> i + 1
        self.nodes = nn.ModuleDict()
        self.upsamples = nn.ModuleDict()  # one per node with j >= 1: U(X^{i+1,j-1})
        for j in range(L + 1):
            for i in range(L + 1 - j):
                if j == 0:
                    self.nodes[node_key(i, 0)] = node(ch[0] if i == 0 else ch[i - 1], i)
                else:
                    self.upsamples[node_key(i, j)] = Upsample(ch[i + 1])
                    self.nodes[node_key(i, j)] = node(j * ch[i] + ch[i + 1], i)
        self.num_nodes = len(self.nodes)
        if o.deep_supervision:
            self.heads = nn.ModuleList(Head(ch[0], out_channels, 1, o.norm_groups) for _ in range(L))
        else:
            self.heads = nn.ModuleList([Head(ch[0], out_channels, 3, o.norm_groups)])
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Zero the last layer of every residual branch and every head.

        Each res block starts as its skip path, each attention block as the identity, and
        the model predicts zero (as the DDPM UNets do), so training starts from a shallow,
        well-conditioned network.
        """
        zero_residual_branches(self)
        for head in self.heads:
            nn.init.zeros_(head.conv.weight)
            nn.init.zeros_(head.conv.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_halvable(x, self.depth, "UNet++")
        emb = self.time_embed(t)  # (B, E)
        X: dict[tuple[int, int], torch.Tensor] = {}
        h = self.stem(x)  # (B, C_0, H, W)
        for i in range(self.depth + 1):  # the encoder column X^{i,0}
            if i > 0:
                h = self.downsamples[i - 1](X[i - 1, 0])  # (B, C_{i-1}, H/2^i, W/2^i)
            X[i, 0] = self.nodes[node_key(i, 0)](h, emb)  # (B, C_i, H/2^i, W/2^i)
        for j in range(1, self.depth + 1):  # column by column: X^{i,j} needs columns < j only
            for i in range(self.depth + 1 - j):
                up = self.upsamples[node_key(i, j)](X[i + 1, j - 1])  # (B, C_{i+1}, H/2^i, W/2^i)
                dense = torch.cat([*(X[i, k] for k in range(j)), up], dim=1)  # (B, j*C_i + C_{i+1}, ..)
                X[i, j] = self.nodes[node_key(i, j)](dense, emb)  # (B, C_i, H/2^i, W/2^i)
        if not self.options.deep_supervision:
            return self.heads[0](X[0, self.depth])  # (B, C_out, H, W)
        outs = [head(X[0, j]) for j, head in enumerate(self.heads, start=1)]  # depth x (B, C_out, H, W)
        return torch.stack(outs).mean(dim=0)  # (B, C_out, H, W)


def build_unetpp(options: UNetPPOptions, *, in_channels: int, out_channels: int) -> UNetPP:
    """UNet++ (nested dense skips) with time-conditioned nodes, for diffusion or regression."""
    return UNetPP(options, in_channels=in_channels, out_channels=out_channels)
