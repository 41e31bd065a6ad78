"""The metric contract: ``factory(options)`` -> ``update(pred, target)`` / ``compute()`` / ``reset()``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from dvcore import protocols
from dvcore.testing.report import Report, expect, start

Tensor = torch.Tensor


def check_metric(
    factory: Callable[..., Any], options: Any = None, *, channels: int = 3, size: int = 32, batch: int = 4
) -> None:
    """The metric contract: ``factory(options)`` -> ``update(pred, target)`` / ``compute()`` / ``reset()``.

    Checks: ``name`` and ``higher_is_better``; ``update`` returns [B] values or None and
    leaves its inputs unchanged; ``compute`` a float; ``reset`` forgets; the score does not
    depend on how the samples are split into batches; for per-sample metrics a perfect
    prediction scores better than a noisy one.
    """
    report, opts = start("metric", factory, options)
    g = torch.Generator().manual_seed(0)
    target = torch.rand(batch, channels, size, size, generator=g)  # (B, C, H, W)
    noisy = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    metric = None
    with report.check("builds with name and higher_is_better"):
        metric = factory(opts)
        expect(
            isinstance(metric, protocols.Metric), "expected name, higher_is_better, reset, update, compute"
        )
        expect(isinstance(metric.name, str) and metric.name, f"name {metric.name!r}")
        expect(isinstance(metric.higher_is_better, bool), f"higher_is_better {metric.higher_is_better!r}")
    if metric is None:
        report.finish()
        return
    per_sample, whole = _check_update(report, metric, noisy, target)
    _check_reset_and_batching(report, metric, noisy, target, whole)
    if per_sample:
        with report.check("a perfect prediction scores better than a noisy one"):
            metric.reset()
            metric.update(target, target)
            perfect = metric.compute()
            better = perfect > whole if metric.higher_is_better else perfect < whole
            expect(better, f"{perfect} for a perfect prediction, {whole} for a noisy one")
    report.finish()


def _same_score(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _check_update(report: Report, metric: Any, noisy: Tensor, target: Tensor) -> tuple[bool, float]:
    """Whether ``update`` returns per-sample values, and the score of one batch (nan when it fails)."""
    per_sample = False
    whole = math.nan
    with report.check("update returns [B] values or None, compute a float"):
        before = noisy.clone(), target.clone()
        values = metric.update(noisy, target)
        expect(torch.equal(noisy, before[0]) and torch.equal(target, before[1]), "update changed its inputs")
        if values is not None:
            per_sample = True
            batch = noisy.shape[0]
            expect(
                tuple(values.shape) == (batch,),
                f"update returned shape {tuple(values.shape)}, expected ({batch},)",
            )
        whole = metric.compute()
        expect(isinstance(whole, float), f"compute returned {type(whole).__name__}, expected float")
    return per_sample, whole


def _check_reset_and_batching(
    report: Report, metric: Any, noisy: Tensor, target: Tensor, whole: float
) -> None:
    with report.check("reset forgets"):
        metric.reset()
        metric.update(noisy, target)
        again = metric.compute()
        expect(_same_score(again, whole), f"{again} after reset, {whole} before")
    with report.check("the score does not depend on the batching"):
        metric.reset()
        half = noisy.shape[0] // 2
        metric.update(noisy[:half], target[:half])
        metric.update(noisy[half:], target[half:])
        split = metric.compute()
        same = math.isclose(split, whole, rel_tol=1e-5, abs_tol=1e-8) or (
            math.isnan(split) and math.isnan(whole)
        )
        expect(same, f"{split} in two batches, {whole} in one")
