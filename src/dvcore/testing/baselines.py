"""The baseline contract: ``factory(options)`` -> ``baseline(context)``, context frames -> middle frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dvcore.testing.report import expect, start


def check_baseline(
    factory: Callable[..., Any], options: Any = None, *, num_frames: int = 5, size: int = 16, batch: int = 2
) -> None:
    """The baseline contract: ``factory(options)`` -> ``baseline(context)``, context frames -> middle frame.

    Checks: context [B, N-1, C, H, W] in [0, 1] gives a finite [B, C, H, W] in [0, 1]
    (C = 1 and 3); the same input gives the same output; the inputs are left unchanged;
    a still scene (every context frame the same image) gives that image (to 2/255).
    """
    report, opts = start("baseline", factory, options)
    baseline = None
    with report.check("builds"):
        baseline = factory(opts)
        expect(callable(baseline), "expected a callable: baseline(context) -> frame")
    if baseline is None:
        report.finish()
        return
    g = torch.Generator().manual_seed(0)
    for channels in (3, 1):
        context = torch.rand(batch, num_frames - 1, channels, size, size, generator=g)  # (B, N-1, C, H, W)
        with report.check(f"{channels} channels: a finite frame [B, C, H, W] in [0, 1], deterministic"):
            before = context.clone()
            out = baseline(context)
            expect(torch.equal(context, before), "the context was changed")
            expect(tuple(out.shape) == (batch, channels, size, size), f"shape {tuple(out.shape)}")
            expect(bool(torch.isfinite(out).all()), "not finite")
            expect(float(out.min()) >= 0 and float(out.max()) <= 1, "outside [0, 1]")
            expect(torch.equal(out, baseline(context)), "two calls differ")
        with report.check(f"{channels} channels: a still scene gives its frame"):
            still = context[:, :1].expand(-1, num_frames - 1, -1, -1, -1).contiguous()
            error = float((baseline(still) - context[:, 0]).abs().max())
            expect(error <= 2 / 255, f"max error {error:.3g}")
    report.finish()
