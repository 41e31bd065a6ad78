"""window_chunk and activation checkpointing change memory, never the numbers."""

from __future__ import annotations

import torch

from dvcore_interp.options import PatchInterpolatorOptions
from dvcore_interp.patch_interpolator import PatchInterpolator


def grads(
    model: PatchInterpolator, x: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    out = model(x, t)
    out.square().mean().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


def test_chunked_checkpointed_training_step_equals_the_plain_one():
    torch.manual_seed(0)
    plain = PatchInterpolator(
        PatchInterpolatorOptions(size="XS", src_field=8, tgt_field=4), in_channels=12, out_channels=3
    )
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # the zero-initialised head would give zero gradients upstream
    chunked = PatchInterpolator(
        PatchInterpolatorOptions(size="XS", src_field=8, tgt_field=4, window_chunk=3),
        in_channels=12,
        out_channels=3,
    )
    chunked.load_state_dict(plain.state_dict())
    chunked.grad_checkpointing = True
    plain.train(), chunked.train()
    x, t = torch.rand(2, 12, 12, 16), torch.tensor([0.0, 5.0])  # 3 x 4 windows per image
    out_a, grads_a = grads(plain, x, t)
    out_b, grads_b = grads(chunked, x, t)
    torch.testing.assert_close(out_b, out_a)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
