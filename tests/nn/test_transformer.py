"""The shared transformer blocks and sin-cos positions of dvcore.nn, against independent references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dvcore.nn import Attention, Mlp, TransformerBlock, TransformerDims, sincos_1d, sincos_2d


def test_attention_is_torch_multihead_attention_with_the_same_weights():
    torch.manual_seed(0)
    ours = Attention(16, 4).double().eval()
    reference = nn.MultiheadAttention(16, 4, batch_first=True).double().eval()
    with torch.no_grad():
        reference.in_proj_weight.copy_(ours.qkv.weight)
        reference.in_proj_bias.copy_(ours.qkv.bias)
        reference.out_proj.weight.copy_(ours.proj.weight)
        reference.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 7, 16, dtype=torch.float64)  # (B, N, D)
    expected, _ = reference(x, x, x, need_weights=False)
    torch.testing.assert_close(ours(x), expected)


def test_attention_rejects_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="expected a width divisible by 3 heads, got 16"):
        Attention(16, 3)


def test_mlp_is_linear_tanh_gelu_linear():
    torch.manual_seed(0)
    mlp = Mlp(8, 32).eval()
    x = torch.randn(2, 5, 8)
    h = x @ mlp.fc1.weight.T + mlp.fc1.bias
    gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))  # Hendrycks & Gimpel
    torch.testing.assert_close(mlp(x), gelu @ mlp.fc2.weight.T + mlp.fc2.bias)


def test_transformer_block_is_residual_pre_norm():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2, mlp_ratio=2.0).eval()
    x = torch.randn(2, 5, 8)
    h = x + block.attn(nn.functional.layer_norm(x, (8,)))  # fresh LayerNorms are the plain normalisation
    torch.testing.assert_close(block(x), h + block.mlp(nn.functional.layer_norm(h, (8,))))


def test_sincos_1d_is_the_transformer_position_encoding():
    pos = torch.arange(6)
    table = sincos_1d(8, pos)  # (6, 8)
    for k in range(4):
        w = 10_000 ** (-k / 4)
        torch.testing.assert_close(table[:, k], torch.sin(pos * w).double())
        torch.testing.assert_close(table[:, 4 + k], torch.cos(pos * w).double())
    odd = sincos_1d(9, pos)
    assert odd.shape == (6, 9) and torch.equal(odd[:, :8], table) and not odd[:, 8].any()


def test_sincos_2d_matches_diffusers_and_can_put_the_row_first():
    embeddings = pytest.importorskip("diffusers.models.embeddings")
    reference = embeddings.get_2d_sincos_pos_embed(32, 4, base_size=4, output_type="pt")  # (16, 32)
    torch.testing.assert_close(sincos_2d(32, 4, 4).float(), reference.float(), atol=1e-5, rtol=0)
    rows_first = sincos_2d(32, 3, 5, column_first=False)  # (15, 32)
    cols_first = sincos_2d(32, 3, 5)
    torch.testing.assert_close(rows_first, torch.cat([cols_first[:, 16:], cols_first[:, :16]], dim=1))
    assert sincos_2d(30, 2, 2, column_first=False).shape == (4, 30)


def test_transformer_dims_name_depth_width_heads():
    dims = TransformerDims(12, 384, 6)
    assert (dims.depth, dims.width, dims.heads) == (12, 384, 6)
