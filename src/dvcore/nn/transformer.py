"""Transformer building blocks shared by the token backbones (DiT, the patch interpolator).

Multi-head self-attention through ``F.scaled_dot_product_attention`` (flash / memory-efficient
kernels where the device has them), the ViT position-wise MLP, a pre-norm block made of the
two, and ``TransformerDims``, the one way a size preset names its (depth, width, heads).
Parameter names (``qkv``, ``proj``, ``fc1``, ``fc2``) are those of ViT/DiT checkpoints.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class TransformerDims(NamedTuple):
    """A transformer's size: blocks, token width, attention heads (the order of DiT's Table 1)."""

    depth: int
    width: int
    heads: int


class Attention(nn.Module):
    """Multi-head self-attention over the tokens of each sequence, through SDPA."""

    def __init__(self, dim: int, num_heads: int, *, attn_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"attention: expected a width divisible by {num_heads} heads, got {dim}")
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout  # on the attention weights, inside SDPA
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads)  # (B, N, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, N, D/H)
        p = self.attn_dropout if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, H, N, D/H)
        x = x.transpose(1, 2).reshape(B, N, D)  # (B, N, D)
        out: torch.Tensor = self.proj_drop(self.proj(x))  # (B, N, D)
        return out


class Mlp(nn.Module):
    """Position-wise feed-forward: Linear, GELU (tanh approximation), Linear, as in ViT/DiT."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(x)))  # (B, N, hidden)
        out: torch.Tensor = self.drop(self.fc2(x))  # (B, N, D)
        return out


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, attn_dropout=attn_dropout, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))  # (B, N, D)
        out: torch.Tensor = x + self.mlp(self.norm2(x))  # (B, N, D)
        return out
