"""The loss contract: ``factory(options)`` -> a loss whose ``kind`` says which call it takes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dvcore.diffusion.schedules import Schedule as BetaSchedule
from dvcore.testing.report import Report, expect, start
from dvcore.testing.tiny_backbone import TinyBackbone

Tensor = torch.Tensor


def check_loss(
    factory: Callable[..., Any], options: Any = None, *, channels: int = 3, size: int = 8, batch: int = 4
) -> None:
    """The loss contract: ``factory(options)`` -> a loss whose ``kind`` says which call it takes.

    ``"regression"``: ``loss(pred, target)`` is a finite scalar, smaller for a perfect
    prediction than for a noisy one, deterministic, with a gradient to ``pred``.
    ``"diffusion"``: ``loss(model_fn, x0, schedule, generator)`` returns an output with a
    finite scalar ``loss`` that trains the model, the same for the same generator seed,
    and a JSON-able ``state_dict`` that ``load_state_dict(state, schedule)`` takes back.
    """
    report, opts = start("loss", factory, options)
    loss = None
    with report.check("builds with kind 'regression' or 'diffusion'"):
        loss = factory(opts)
        expect(
            getattr(loss, "kind", None) in ("regression", "diffusion"),
            f"kind {getattr(loss, 'kind', None)!r}",
        )
    if loss is None or getattr(loss, "kind", None) not in ("regression", "diffusion"):
        report.finish()
        return
    g = torch.Generator().manual_seed(0)
    target = torch.rand(batch, channels, size, size, generator=g) * 2 - 1  # (B, C, H, W)
    if loss.kind == "regression":
        _check_regression_loss(report, loss, target, g)
    else:
        _check_diffusion_loss(report, lambda: factory(opts), target)
    report.finish()


def _check_regression_loss(report: Report, loss: Any, target: Tensor, g: torch.Generator) -> None:
    noisy = target + 0.3 * torch.randn(target.shape, generator=g)
    with report.check("a finite scalar with a gradient to pred"):
        pred = noisy.clone().requires_grad_(True)
        value = loss(pred, target)
        expect(isinstance(value, Tensor) and value.dim() == 0, f"expected a scalar tensor, got {value!r}")
        expect(bool(torch.isfinite(value)), f"loss {float(value.detach())}")
        expect(value.requires_grad, "no gradient reaches pred (the loss is detached)")
        value.backward()
        expect(pred.grad is not None and bool(pred.grad.abs().sum() > 0), "no gradient reaches pred")
    with report.check("a perfect prediction has a smaller loss"):
        expect(float(loss(target, target)) < float(loss(noisy, target)), "not smaller")
    with report.check("deterministic"):
        expect(torch.equal(loss(noisy, target), loss(noisy, target)), "two calls differ")


def _check_diffusion_loss(report: Report, build: Callable[[], Any], target: Tensor) -> None:
    schedule = BetaSchedule(torch.linspace(1e-4, 0.02, 100, dtype=torch.float64), "linear")
    channels = target.shape[1]

    def run(state: dict[str, Any] | None = None) -> tuple[Any, nn.Module, Any]:
        torch.manual_seed(0)
        model = TinyBackbone(channels, channels)
        fresh = build()
        if state is not None:
            fresh.load_state_dict(state, schedule)
        out = fresh(lambda x, t, **_: model(x, t), target, schedule, torch.Generator().manual_seed(1))
        return out, model, fresh

    with report.check("a finite scalar loss that trains the model"):
        out, model, _ = run()
        expect(out.loss.dim() == 0 and bool(torch.isfinite(out.loss)), f"loss {out.loss!r}")
        out.loss.backward()
        expect(all(p.grad is not None for p in model.parameters()), "no gradient reaches the model")
    with report.check("the same generator seed gives the same loss"):
        expect(torch.equal(run()[0].loss, run()[0].loss), "two calls differ")
    with report.check("state_dict is JSON-able and loads back"):
        _, _, used = run()
        state = used.state_dict()
        json.dumps(state)
        run(state)
