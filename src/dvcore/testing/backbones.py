"""The backbone contract: ``factory(options, *, in_channels, out_channels)`` -> ``forward(x, t)``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from dvcore import protocols
from dvcore.testing.report import Report, expect, start

Tensor = torch.Tensor


@attrs.frozen
class _Probe:
    """What every backbone sub-check needs: how to build one, and the output it must give."""

    build: Callable[[], nn.Module]
    batch: int
    out_channels: int
    height: int
    width: int

    def shape_ok(self, out: Tensor, b: int) -> bool:
        c, h, w = self.out_channels, self.height, self.width
        return tuple(out.shape) in ((b, c, h, w), (b, 2 * c, h, w))

    @property
    def expected(self) -> str:
        c = self.out_channels
        return f"({self.batch}, {c} or {2 * c}, {self.height}, {self.width})"


def check_backbone(
    factory: Callable[..., Any],
    options: Any = None,
    *,
    in_channels: int = 12,
    out_channels: int = 3,
    size: int | tuple[int, int] = 16,
    batch: int = 2,
    t_dependent: bool = True,
    unused_parameters: tuple[str, ...] = (),
) -> None:
    """The backbone contract: ``factory(options, *, in_channels, out_channels)`` -> ``forward(x, t)``.

    Checks: builds and runs on the meta device (as ``dvcore validate`` does); output
    [B, C_out (or 2 C_out), H, W] of the input's dtype and finite, for t = 0 (regression),
    fractional and large t; the same weights under the same seed; output depends on t
    (``t_dependent=False`` for a regression-only backbone); each sample's output does not
    depend on the rest of the batch (eval mode); every parameter receives a finite
    gradient (except ``unused_parameters``); the state survives a safetensors round trip.
    Zero-initialised layers are perturbed first, so a block that starts as identity is
    still tested.
    """
    report, opts = start("backbone", factory, options)
    h, w = (size, size) if isinstance(size, int) else size

    def build() -> nn.Module:
        return factory(opts, in_channels=in_channels, out_channels=out_channels)  # type: ignore[no-any-return]

    probe = _Probe(build, batch, out_channels, h, w)
    with torch.random.fork_rng(devices=[]):
        _check_on_meta(report, probe, in_channels)
        model = _check_same_seed(report, probe)
        if model is None:
            report.finish()
            return
        g = torch.Generator().manual_seed(1)
        x = torch.rand(batch, in_channels, h, w, generator=g) * 2 - 1  # (B, C_in, H, W)
        _check_forward(report, probe, model, x)
        with torch.no_grad():  # wake zero-initialised layers, so that every path is exercised
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        _check_eval_behaviour(report, model, x, t_dependent)
        _check_gradients(report, model, x, unused_parameters)
        _check_round_trip(report, probe, model, x)
    report.finish()


def _check_on_meta(report: Report, probe: _Probe, in_channels: int) -> None:
    b, h, w = probe.batch, probe.height, probe.width
    with report.check("builds and runs on the meta device"):
        with torch.device("meta"):
            meta = probe.build()
        expect(isinstance(meta, protocols.Backbone), "the factory returned no nn.Module with forward(x, t)")
        on_meta = [n for n, p in meta.named_parameters() if p.device.type != "meta"]
        expect(not on_meta, f"parameters created off the default device: {', '.join(on_meta[:3])}")
        out = meta(torch.empty(b, in_channels, h, w, device="meta"), torch.zeros(b, device="meta"))
        expect(probe.shape_ok(out, b), f"output {tuple(out.shape)} on meta, expected {probe.expected}")


def _check_same_seed(report: Report, probe: _Probe) -> nn.Module | None:
    model = None
    with report.check("the same seed gives the same weights"):
        torch.manual_seed(0)
        model = probe.build()
        torch.manual_seed(0)
        twin = probe.build()
        a, b = model.state_dict(), twin.state_dict()
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        expect(not differ, f"weights differ under the same seed: {', '.join(differ[:3])}")
    return model


def _check_forward(report: Report, probe: _Probe, model: nn.Module, x: Tensor) -> None:
    batch = probe.batch
    model.eval()
    with torch.no_grad():
        for label, t in (
            ("t = 0 (regression)", torch.zeros(batch)),
            ("fractional t", torch.linspace(0.5, 998.5, batch)),
            ("t = 999", torch.full((batch,), 999.0)),
        ):
            with report.check(f"forward at {label}"):
                out = model(x, t)
                expect(probe.shape_ok(out, batch), f"output {tuple(out.shape)}, expected {probe.expected}")
                expect(out.dtype == x.dtype, f"output dtype {out.dtype}, expected {x.dtype}")
                expect(bool(torch.isfinite(out).all()), "output is not finite")


def _check_eval_behaviour(report: Report, model: nn.Module, x: Tensor, t_dependent: bool) -> None:
    batch = x.shape[0]
    if t_dependent:
        with report.check("output depends on t"), torch.no_grad():
            low, high = model(x, torch.full((batch,), 10.0)), model(x, torch.full((batch,), 900.0))
            expect(not torch.allclose(low, high), "same output at t = 10 and t = 900")

    with report.check("forward is deterministic in eval mode"), torch.no_grad():
        expect(torch.equal(model(x, torch.zeros(batch)), model(x, torch.zeros(batch))), "two calls differ")

    with report.check("samples do not depend on the rest of the batch"), torch.no_grad():
        t = torch.full((batch,), 300.0)
        whole, alone = model(x, t)[:1], model(x[:1], t[:1])
        scale = float(whole.abs().max()) + 1e-6
        expect(
            torch.allclose(whole, alone, atol=1e-4 * scale, rtol=1e-4),
            f"sample 0 changes with the batch (max diff {float((whole - alone).abs().max()):.3g})",
        )


def _check_gradients(report: Report, model: nn.Module, x: Tensor, unused_parameters: tuple[str, ...]) -> None:
    with report.check("every parameter gets a finite gradient"):
        model.train()
        model.zero_grad(set_to_none=True)
        model(x, torch.full((x.shape[0],), 300.0)).float().square().mean().backward()
        missing = [
            n
            for n, p in model.named_parameters()
            if p.requires_grad and p.grad is None and n not in unused_parameters
        ]
        expect(not missing, f"no gradient for {', '.join(missing[:4])} (pass unused_parameters=...)")
        bad = [
            n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()
        ]
        expect(not bad, f"non-finite gradient for {', '.join(bad[:4])}")
        expect(
            any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters()),
            "every gradient is zero",
        )


def _check_round_trip(report: Report, probe: _Probe, model: nn.Module, x: Tensor) -> None:
    with report.check("state survives a safetensors round trip"), tempfile.TemporaryDirectory() as tmp:
        model.eval()
        path = Path(tmp) / "model.safetensors"
        save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, path)
        torch.manual_seed(123)
        restored = probe.build().eval()
        restored.load_state_dict(load_file(path), strict=True)
        t = torch.full((probe.batch,), 300.0)
        with torch.no_grad():
            expect(torch.equal(model(x, t), restored(x, t)), "the restored model computes another output")
