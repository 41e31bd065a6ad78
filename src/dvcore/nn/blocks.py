"""Convolutional building blocks shared by the UNet-family backbones.

A residual block conditioned on the time embedding by scale and shift (the "adaptive
group norm" of Dhariwal & Nichol 2021, sec. 3), self-attention over pixels through
``F.scaled_dot_product_attention``, and 2x down/up sampling. Every block works on
channels-last tensors as well (no ``.view`` that assumes a memory layout) and can
recompute its activations in the backward pass (``grad_checkpointing``) to trade
compute for memory.

Zero-initialising is left to the model's ``initialize_weights``: ``ResBlock.conv2`` and
``AttentionBlock.proj`` are the layers to zero for a block that starts as identity.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

DropoutMode = Literal["element", "channel"]


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with a clear error when the channels do not split into the groups."""
    if channels % groups:
        raise ValueError(f"GroupNorm: expected channels divisible by {groups} groups, got {channels}")
    return nn.GroupNorm(groups, channels)


def dropout(p: float, mode: DropoutMode) -> nn.Module:
    """Per-element dropout (nn.Dropout) or whole-channel dropout (nn.Dropout2d).

    Channel dropout in the residual blocks ruined a DDPM UNet, per-pixel dropout did not
    (docs/lab_notes.md §G3, §G9); "channel" is kept for the ablation.
    """
    if mode == "element":
        return nn.Dropout(p)
    if mode == "channel":
        return nn.Dropout2d(p)
    raise ValueError(f"dropout mode: expected 'element' or 'channel', got {mode!r}")


class _Checkpointable(nn.Module):
    """A block whose ``forward`` may be recomputed in backward (torch.utils.checkpoint)."""

    grad_checkpointing: bool = False

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            # Non-reentrant: works with inputs that need no grad, and restores the RNG
            # state so that dropout draws the same mask when recomputed.
            out: torch.Tensor = checkpoint(self._forward, *args, use_reentrant=False)
            return out
        return self._forward(*args)

    def _forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:  # each block names its inputs
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------
# Residual block
# ----------------------------------------------------------------------------------------------


class ResBlock(_Checkpointable):
    """GroupNorm-SiLU-conv twice; the time embedding scales and shifts the second norm."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        emb_dim: int,
        *,
        dropout_p: float = 0.0,
        dropout_mode: DropoutMode = "element",
        groups: int = 32,
        grad_checkpointing: bool = False,
    ):
        super().__init__()
        self.grad_checkpointing = grad_checkpointing
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(emb_dim, 2 * out_channels)  # -> (scale, shift)
        self.norm2 = group_norm(out_channels, groups)
        self.dropout = dropout(dropout_p, dropout_mode)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def _forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # 2 x (B, C_out, 1, 1)
        h = self.norm2(h) * (1 + scale) + shift  # (B, C_out, H, W)
        h = self.conv2(self.dropout(F.silu(h)))  # (B, C_out, H, W)
        out: torch.Tensor = self.skip(x) + h  # (B, C_out, H, W)
        return out


# ----------------------------------------------------------------------------------------------
# Self-attention over pixels
# ----------------------------------------------------------------------------------------------


class AttentionBlock(_Checkpointable):
    """Multi-head self-attention over the H*W positions, with a residual connection."""

    def __init__(
        self,
        channels: int,
        *,
        num_heads: int = 4,
        head_dim: int | None = None,
        dropout_p: float = 0.0,
        groups: int = 32,
        grad_checkpointing: bool = False,
    ):
        """``head_dim``, when given, sets the heads to channels // head_dim instead of ``num_heads``."""
        super().__init__()
        if head_dim is not None:
            if channels % head_dim:
                raise ValueError(
                    f"attention: expected channels divisible by head_dim {head_dim}, got {channels}"
                )
            num_heads = channels // head_dim
        if num_heads < 1 or channels % num_heads:
            raise ValueError(f"attention: expected channels divisible by {num_heads} heads, got {channels}")
        self.grad_checkpointing = grad_checkpointing
        self.num_heads = num_heads
        self.dropout_p = dropout_p  # on the attention weights, inside SDPA
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.num_heads, C // self.num_heads, H * W)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # 3 x (B, heads, H*W, C/heads)
        p = self.dropout_p if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, heads, H*W, C/heads)
        h = h.transpose(-1, -2).reshape(B, C, H, W)  # (B, C, H, W)
        out: torch.Tensor = x + self.proj(h)  # (B, C, H, W)
        return out


# ----------------------------------------------------------------------------------------------
# Resampling
# ----------------------------------------------------------------------------------------------


class Downsample(nn.Module):
    """Halve H and W with a stride-2 3x3 convolution."""

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)  # (B, C_out, H/2, W/2)
        return out


class Upsample(nn.Module):
    """Double H and W: nearest-neighbour repeat, then a 3x3 convolution (no checkerboard)."""

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (B, C, 2H, 2W)
        out: torch.Tensor = self.conv(x)  # (B, C_out, 2H, 2W)
        return out


# ----------------------------------------------------------------------------------------------
# A stack of res (+ attention) blocks at one resolution
# ----------------------------------------------------------------------------------------------


class ResStack(nn.Module):
    """``num_blocks`` res blocks (the first maps in -> out), each followed by attention when on."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        emb_dim: int,
        *,
        num_blocks: int = 1,
        attention: bool = False,
        num_heads: int = 4,
        head_dim: int | None = None,
        attn_dropout: float = 0.0,
        res_dropout: float = 0.0,
        dropout_mode: DropoutMode = "element",
        groups: int = 32,
        grad_checkpointing: bool = False,
    ):
        super().__init__()
        self.res = nn.ModuleList(
            ResBlock(
                in_channels if k == 0 else out_channels,
                out_channels,
                emb_dim,
                dropout_p=res_dropout,
                dropout_mode=dropout_mode,
                groups=groups,
                grad_checkpointing=grad_checkpointing,
            )
            for k in range(num_blocks)
        )
        self.attn = nn.ModuleList(
            AttentionBlock(
                out_channels,
                num_heads=num_heads,
                head_dim=head_dim,
                dropout_p=attn_dropout,
                groups=groups,
                grad_checkpointing=grad_checkpointing,
            )
            if attention
            else nn.Identity()
            for _ in range(num_blocks)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for res, attn in zip(self.res, self.attn, strict=True):
            x = attn(res(x, emb))  # (B, C_out, H, W)
        return x


def zero_residual_branches(model: nn.Module) -> None:
    """Zero the last layer of every ``ResBlock`` and ``AttentionBlock`` in ``model``.

    Each res block then starts as its skip path and each attention block as the identity, so
    a network begins as a well-conditioned shallow path and grows its branches (Ho et al. 2020,
    Dhariwal & Nichol 2021).
    """
    for module in model.modules():
        if isinstance(module, ResBlock):
            _zero(module.conv2)
        elif isinstance(module, AttentionBlock):
            _zero(module.proj)


def _zero(layer: nn.Conv2d | nn.Linear) -> None:
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def check_halvable(x: torch.Tensor, times: int, model: str) -> None:
    """Raise a clear ``ValueError`` when H or W of ``x`` cannot be halved ``times`` times."""
    H, W = x.shape[-2:]
    m = 2**times
    if H % m or W % m:
        raise ValueError(
            f"{model}: expected H and W divisible by {m} (the model halves them {times} times), got {H}x{W}"
        )
