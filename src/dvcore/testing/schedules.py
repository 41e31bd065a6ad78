"""The schedule contract: ``factory(options)`` -> float64 tables indexed by training step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dvcore import protocols
from dvcore.testing.report import build, expect, start


def check_schedule(factory: Callable[..., Any], options: Any = None) -> None:
    """The schedule contract: ``factory(options)`` -> float64 tables indexed by training step.

    Checks: T >= 2; betas in (0, 1]; alpha_bar = cumprod(1 - beta), float64, in [0, 1],
    positive at t = 0, non-increasing in t; ``add_noise`` keeps the shape; deterministic.
    """
    report, opts = start("schedule", factory, options)
    expected = "expected name, betas, alphas_cumprod, add_noise"
    schedule = build(report, lambda: factory(opts), protocols.Schedule, expected)
    with report.check("float64 tables of T entries, T >= 2"):
        T = schedule.num_train_timesteps
        expect(T >= 2, f"T = {T}")
        for name in ("betas", "alphas_cumprod"):
            table = getattr(schedule, name)
            expect(table.dtype == torch.float64, f"{name} is {table.dtype}")
            expect(tuple(table.shape) == (T,), f"{name} has shape {tuple(table.shape)}, expected ({T},)")
    with report.check("betas in (0, 1] and alpha_bar their cumulative product"):
        betas, ab = schedule.betas, schedule.alphas_cumprod
        expect(bool(((betas > 0) & (betas <= 1)).all()), "a beta outside (0, 1]")
        expect(
            torch.allclose(ab, torch.cumprod(1 - betas, 0), rtol=1e-9, atol=1e-12),
            "alpha_bar != cumprod(1 - beta)",
        )
    with report.check("alpha_bar in [0, 1], positive at t = 0, non-increasing"):
        ab = schedule.alphas_cumprod
        expect(bool(((ab >= 0) & (ab <= 1)).all()) and float(ab[0]) > 0, "out of range")
        expect(bool((ab[1:] <= ab[:-1]).all()), "alpha_bar rises somewhere")
    with report.check("add_noise keeps the shape"):
        x0 = torch.zeros(2, 3, 4, 4)
        out = schedule.add_noise(x0, torch.ones_like(x0), torch.tensor([0, schedule.num_train_timesteps - 1]))
        expect(out.shape == x0.shape, f"shape {tuple(out.shape)}")
    with report.check("deterministic"):
        expect(torch.equal(factory(opts).alphas_cumprod, schedule.alphas_cumprod), "two builds differ")
    report.finish()
