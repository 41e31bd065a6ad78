"""The shared UNet building blocks: attention against a plain softmax reference, the
scale-shift conditioning, dropout modes, channels-last and gradient checkpointing."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dvcore.nn.blocks import AttentionBlock, Downsample, ResBlock, ResStack, Upsample


def test_attention_matches_a_softmax_reference() -> None:
    torch.manual_seed(0)
    block = AttentionBlock(8, num_heads=2, groups=4).double().eval()
    x = torch.randn(2, 8, 3, 5, dtype=torch.float64)
    # Reference: softmax(q k^T / sqrt(d)) v per head, written with einsum over (B, C, N).
    h = block.norm(x).flatten(2)  # (B, C, N)
    w = block.qkv.weight[:, :, 0, 0]
    q, k, v = (torch.einsum("oc,bcn->bon", w, h) + block.qkv.bias[None, :, None]).chunk(3, dim=1)
    q, k, v = (t.reshape(2, 2, 4, 15) for t in (q, k, v))  # (B, heads, d, N)
    attn = torch.softmax(torch.einsum("bhdn,bhdm->bhnm", q, k) / math.sqrt(4), dim=-1)
    out = torch.einsum("bhnm,bhdm->bhdn", attn, v).reshape(2, 8, 15)
    out = torch.einsum("oc,bcn->bon", block.proj.weight[:, :, 0, 0], out) + block.proj.bias[None, :, None]
    torch.testing.assert_close(block(x), x + out.reshape(2, 8, 3, 5))


def test_attention_heads_from_head_dim() -> None:
    assert AttentionBlock(64, head_dim=16, groups=8).num_heads == 4
    assert AttentionBlock(64, num_heads=8, groups=8).num_heads == 8
    with pytest.raises(ValueError, match="divisible by head_dim 24"):
        AttentionBlock(64, head_dim=24, groups=8)
    with pytest.raises(ValueError, match="divisible by 3 heads"):
        AttentionBlock(64, num_heads=3, groups=8)


def test_resblock_scale_shift_conditioning_matches_formula() -> None:
    torch.manual_seed(0)
    block = ResBlock(4, 8, emb_dim=6, groups=2).double().eval()
    x, emb = torch.randn(3, 4, 6, 7, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    h = block.conv1(F.silu(F.group_norm(x, 2, block.norm1.weight, block.norm1.bias)))
    scale, shift = (F.silu(emb) @ block.emb_proj.weight.T + block.emb_proj.bias).chunk(2, dim=1)
    h = F.group_norm(h, 2, block.norm2.weight, block.norm2.bias) * (1 + scale[..., None, None])
    h = block.conv2(F.silu(h + shift[..., None, None]))
    torch.testing.assert_close(block(x, emb), block.skip(x) + h)
    assert isinstance(block.skip, nn.Conv2d) and isinstance(ResBlock(4, 4, 6, groups=2).skip, nn.Identity)


def test_resblock_with_zero_second_conv_is_its_skip_path() -> None:
    block = ResBlock(8, 8, emb_dim=4, groups=4)
    nn.init.zeros_(block.conv2.weight)
    nn.init.zeros_(block.conv2.bias)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x, torch.randn(2, 4)), x)


def test_dropout_modes_drop_elements_or_whole_channels() -> None:
    element = ResBlock(8, 8, 4, dropout_p=0.5, dropout_mode="element", groups=4)
    channel = ResBlock(8, 8, 4, dropout_p=0.5, dropout_mode="channel", groups=4)
    assert type(element.dropout) is nn.Dropout and type(channel.dropout) is nn.Dropout2d
    torch.manual_seed(0)
    mask = channel.dropout(torch.ones(2, 8, 6, 6)) == 0
    assert mask.any() and (mask.all(dim=(2, 3)) | ~mask.any(dim=(2, 3))).all()  # whole maps, or none
    mask = element.dropout(torch.ones(2, 8, 6, 6)) == 0
    assert mask.any() and not (mask.all(dim=(2, 3)) | ~mask.any(dim=(2, 3))).all()


def test_blocks_give_the_same_output_on_channels_last_input() -> None:
    torch.manual_seed(0)
    res, attn = ResBlock(8, 16, 4, groups=4).eval(), AttentionBlock(16, num_heads=2, groups=4).eval()
    x, emb = torch.randn(2, 8, 6, 10), torch.randn(2, 4)
    expected = attn(res(x, emb))
    got = attn(res(x.contiguous(memory_format=torch.channels_last), emb))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("block_cls", [ResBlock, AttentionBlock])
def test_gradient_checkpointing_gives_the_same_gradients(block_cls: type) -> None:
    torch.manual_seed(0)
    if block_cls is ResBlock:
        plain = ResBlock(8, 8, 4, dropout_p=0.3, groups=4)
        inputs = (torch.randn(2, 8, 6, 6, requires_grad=True), torch.randn(2, 4, requires_grad=True))
    else:
        plain = AttentionBlock(8, num_heads=2, dropout_p=0.3, groups=4)
        inputs = (torch.randn(2, 8, 6, 6, requires_grad=True),)
    ckpt = copy.deepcopy(plain)
    ckpt.grad_checkpointing = True
    grads = []
    for block in (plain, ckpt):
        torch.manual_seed(1)  # same dropout masks in both
        block(*inputs).square().sum().backward()
        grads.append([p.grad.clone() for p in block.parameters()] + [i.grad.clone() for i in inputs])
        for i in inputs:
            i.grad = None
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_resampling_halves_and_doubles_non_square_maps() -> None:
    x = torch.randn(2, 4, 8, 12)
    assert Downsample(4)(x).shape == (2, 4, 4, 6)
    assert Downsample(4, 6)(x).shape == (2, 6, 4, 6)
    assert Upsample(4, 2)(x).shape == (2, 2, 16, 24)


def test_res_stack_chains_res_and_attention_blocks() -> None:
    stack = ResStack(4, 8, 6, num_blocks=2, attention=True, head_dim=4, res_dropout=0.1, groups=2)
    assert [(r.conv1.in_channels, r.conv1.out_channels) for r in stack.res] == [(4, 8), (8, 8)]
    assert [a.num_heads for a in stack.attn] == [2, 2]
    x, emb = torch.randn(2, 4, 6, 6), torch.randn(2, 6)
    stack.eval()
    expected = stack.attn[1](stack.res[1](stack.attn[0](stack.res[0](x, emb)), emb))
    torch.testing.assert_close(stack(x, emb), expected)
    assert all(isinstance(a, nn.Identity) for a in ResStack(4, 8, 6, num_blocks=3, groups=2).attn)
