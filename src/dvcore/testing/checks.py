"""Executable contracts: one ``check_<kind>`` per component kind, like scikit-learn's ``check_estimator``.

Each check builds the component from its factory and options the way dvcore does, runs
every sub-check of the kind's contract (``dvcore.protocols``), and raises one
``ConformanceError`` (an ``AssertionError``) listing every sub-check that failed, one line
each, or returns None. Call them from your plugin's tests:

    from dvcore.testing import check_backbone

    def test_my_net_meets_the_backbone_contract():
        check_backbone(build_my_net, MyNetOptions(width=8))

``options`` may be an options instance, the options class (its defaults are used), or
None (no options). Every check also runs ``check_options`` on the options class: attrs
class, frozen, a doc per field, validators that raise ``ValueError`` without the field
name, ``problems()`` that never raises. Checks fork torch's RNG, so they leave the global
random state of the test as they found it.
"""

from __future__ import annotations

import json
import math
import tempfile
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import default_collate

from dvcore import protocols
from dvcore.diffusion.schedules import Schedule as BetaSchedule
from dvcore.nn.embeddings import timestep_embedding
from dvcore.registry import NoOptions, Registry
from dvcore.track.base import RunInfo

Tensor = torch.Tensor

__all__ = [
    "ConformanceError",
    "TinyBackbone",
    "check_backbone",
    "check_baseline",
    "check_component",
    "check_dataset",
    "check_loss",
    "check_metric",
    "check_options",
    "check_sampler",
    "check_schedule",
    "check_task",
    "check_tracker",
    "kit_registry",
]


class ConformanceError(AssertionError):
    """A component that does not meet its kind's contract; one line per failed sub-check."""


class _Failed(Exception):
    """One sub-check's failure (caught by the report)."""


def _expect(condition: object, message: str) -> None:
    if not condition:
        raise _Failed(message)


class _Report:
    """Collects failed sub-checks; ``finish`` raises them all at once."""

    def __init__(self, what: str):
        self.what = what
        self.failures: list[str] = []

    @contextmanager
    def check(self, name: str) -> Iterator[None]:
        try:
            yield
        except _Failed as exc:
            self.failures.append(f"{name}: {exc}")
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.failures.append(f"{name}: raised {type(exc).__name__}: {first}")

    def finish(self) -> None:
        if self.failures:
            lines = "\n".join(f"  - {f}" for f in self.failures)
            raise ConformanceError(f"{self.what} fails {len(self.failures)} check(s):\n{lines}")


# ----------------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------------


def _options_class_and_instance(options: Any) -> tuple[type, Any]:
    if options is None:
        return NoOptions, NoOptions()
    if isinstance(options, type):
        return options, options()
    return type(options), options


def check_options(options: Any) -> None:
    """The options contract alone: ``options`` is an options class or instance."""
    report = _Report(f"options {getattr(options, '__name__', type(options).__name__)}")
    _check_options(options, report)
    report.finish()


def _candidate_values(tp: Any) -> list[Any]:
    """Values of type ``tp`` that validators commonly refuse (negative, zero, huge, empty)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return [v for a in args for v in _candidate_values(a)]
    if tp is bool or origin is typing.Literal:
        return []  # the recipe loader checks these against the type itself
    if tp is int:
        return [-1, 0, 1, 3, -(10**6), 10**6]
    if tp is float:
        return [-1.0, 0.0, 0.5, 1.0, -1e6, 1e6, math.nan]
    if tp is str:
        return ["", "?", "/nonexistent/dvcore-check"]
    if origin in (list, tuple) or tp in (list, tuple):
        return [[], [-1], [0]]
    return []


def _check_options(options: Any, report: _Report) -> Any:
    """Sub-checks of the options class; returns an instance (or None when there is none)."""
    cls = options if isinstance(options, type) else type(options)
    instance = None
    with report.check("options are an attrs class"):
        _expect(attrs.has(cls), f"{cls!r} is not an attrs class (decorate it with @attrs.frozen)")
    if not attrs.has(cls):
        return None
    with report.check("options can be built"):
        instance = options() if isinstance(options, type) else options
    if instance is None:
        return None
    with report.check("options are frozen"):
        fields = attrs.fields(cls)
        if fields:
            try:
                setattr(instance, fields[0].name, getattr(instance, fields[0].name))
            except attrs.exceptions.FrozenInstanceError:
                pass
            else:
                raise _Failed(f"{cls.__name__} is mutable: declare it with @attrs.frozen")
    with report.check("every option has a doc"):
        undocumented = [f.name for f in attrs.fields(cls) if not f.metadata.get("doc")]
        _expect(
            not undocumented,
            f"no doc for {', '.join(undocumented)}: declare fields with opt(default, doc, ...)",
        )
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    variants = [instance]
    with report.check("validators raise ValueError without the field name"):
        problems: list[str] = []
        for field in attrs.fields(cls):
            if field.validator is None:
                continue
            for value in _candidate_values(hints.get(field.name, field.type)):
                try:
                    variants.append(attrs.evolve(instance, **{field.name: value}))
                except ValueError as exc:
                    message = str(exc)
                    if not message.strip() or "\n" in message.strip():
                        problems.append(
                            f"{field.name}={value!r}: expected a one-line message, got {message!r}"
                        )
                    elif message.startswith((field.name, f"'{field.name}'")):
                        problems.append(
                            f"{field.name}={value!r}: message {message!r} starts with the field name "
                            "(the recipe loader adds the TOML path)"
                        )
                except Exception as exc:
                    problems.append(
                        f"{field.name}={value!r}: raised {type(exc).__name__}, expected ValueError"
                    )
        _expect(not problems, "; ".join(problems[:3]))
    with report.check("problems() never raises"):
        method = getattr(instance, "problems", None)
        if method is not None:
            for variant in variants:
                pairs = list(variant.problems())
                bad = [p for p in pairs if not (isinstance(p, tuple) and len(p) == 2)]
                _expect(not bad, f"expected (field, message) pairs, got {bad[0]!r}" if bad else "")
    return instance


def _resolve(options: Any, report: _Report) -> Any:
    if options is None:
        return NoOptions()
    return _check_options(options, report)


# ----------------------------------------------------------------------------------------------
# backbone
# ----------------------------------------------------------------------------------------------


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
    report = _Report(f"backbone {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    h, w = (size, size) if isinstance(size, int) else size

    def build() -> nn.Module:
        return factory(opts, in_channels=in_channels, out_channels=out_channels)

    def shape_ok(out: Tensor, b: int) -> bool:
        return tuple(out.shape) in ((b, out_channels, h, w), (b, 2 * out_channels, h, w))

    expected = f"({batch}, {out_channels} or {2 * out_channels}, {h}, {w})"
    with torch.random.fork_rng(devices=[]):
        with report.check("builds and runs on the meta device"):
            with torch.device("meta"):
                meta = build()
            _expect(
                isinstance(meta, protocols.Backbone), "the factory returned no nn.Module with forward(x, t)"
            )
            on_meta = [n for n, p in meta.named_parameters() if p.device.type != "meta"]
            _expect(not on_meta, f"parameters created off the default device: {', '.join(on_meta[:3])}")
            out = meta(
                torch.empty(batch, in_channels, h, w, device="meta"), torch.zeros(batch, device="meta")
            )
            _expect(shape_ok(out, batch), f"output {tuple(out.shape)} on meta, expected {expected}")

        model = None
        with report.check("the same seed gives the same weights"):
            torch.manual_seed(0)
            model = build()
            torch.manual_seed(0)
            twin = build()
            a, b = model.state_dict(), twin.state_dict()
            differ = [k for k in a if not torch.equal(a[k], b[k])]
            _expect(not differ, f"weights differ under the same seed: {', '.join(differ[:3])}")
        if model is None:
            report.finish()
            return

        g = torch.Generator().manual_seed(1)
        x = torch.rand(batch, in_channels, h, w, generator=g) * 2 - 1  # (B, C_in, H, W)
        model.eval()
        with torch.no_grad():
            for label, t in (
                ("t = 0 (regression)", torch.zeros(batch)),
                ("fractional t", torch.linspace(0.5, 998.5, batch)),
                ("t = 999", torch.full((batch,), 999.0)),
            ):
                with report.check(f"forward at {label}"):
                    out = model(x, t)
                    _expect(shape_ok(out, batch), f"output {tuple(out.shape)}, expected {expected}")
                    _expect(out.dtype == x.dtype, f"output dtype {out.dtype}, expected {x.dtype}")
                    _expect(bool(torch.isfinite(out).all()), "output is not finite")

        with torch.no_grad():  # wake zero-initialised layers, so that every path is exercised
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))

        if t_dependent:
            with report.check("output depends on t"), torch.no_grad():
                low, high = model(x, torch.full((batch,), 10.0)), model(x, torch.full((batch,), 900.0))
                _expect(not torch.allclose(low, high), "same output at t = 10 and t = 900")

        with report.check("forward is deterministic in eval mode"), torch.no_grad():
            _expect(
                torch.equal(model(x, torch.zeros(batch)), model(x, torch.zeros(batch))), "two calls differ"
            )

        with report.check("samples do not depend on the rest of the batch"), torch.no_grad():
            t = torch.full((batch,), 300.0)
            whole, alone = model(x, t)[:1], model(x[:1], t[:1])
            scale = float(whole.abs().max()) + 1e-6
            _expect(
                torch.allclose(whole, alone, atol=1e-4 * scale, rtol=1e-4),
                f"sample 0 changes with the batch (max diff {float((whole - alone).abs().max()):.3g})",
            )

        with report.check("every parameter gets a finite gradient"):
            model.train()
            model.zero_grad(set_to_none=True)
            model(x, torch.full((batch,), 300.0)).float().square().mean().backward()
            missing = [
                n
                for n, p in model.named_parameters()
                if p.requires_grad and p.grad is None and n not in unused_parameters
            ]
            _expect(not missing, f"no gradient for {', '.join(missing[:4])} (pass unused_parameters=...)")
            bad = [
                n
                for n, p in model.named_parameters()
                if p.grad is not None and not torch.isfinite(p.grad).all()
            ]
            _expect(not bad, f"non-finite gradient for {', '.join(bad[:4])}")
            _expect(
                any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters()),
                "every gradient is zero",
            )

        with report.check("state survives a safetensors round trip"), tempfile.TemporaryDirectory() as tmp:
            model.eval()
            path = Path(tmp) / "model.safetensors"
            save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, path)
            torch.manual_seed(123)
            restored = build().eval()
            restored.load_state_dict(load_file(path), strict=True)
            t = torch.full((batch,), 300.0)
            with torch.no_grad():
                _expect(
                    torch.equal(model(x, t), restored(x, t)), "the restored model computes another output"
                )
    report.finish()


class TinyBackbone(nn.Module):
    """A small conditional conv net the kit drives losses, samplers and tasks with (t enters by FiLM)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 8):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.film = nn.Linear(16, 2 * width)
        self.conv_out = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        scale, shift = self.film(timestep_embedding(t, 16).to(x.dtype)).chunk(2, dim=1)  # (B, width) x2
        hidden = torch.nn.functional.silu(self.conv_in(x))  # (B, width, H, W)
        hidden = hidden * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        return self.conv_out(hidden)  # (B, C_out, H, W)


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------


def check_dataset(
    factory: Callable[..., Any],
    options: Any = None,
    *,
    seed: int = 0,
    splits: tuple[str, ...] = ("train", "eval"),
) -> None:
    """The dataset contract: ``factory(options, *, split, seed)`` -> a map-style dataset of samples.

    Checks, per split: ``len`` > 0; the first, middle and last sample are dicts with
    ``frames`` [N, C, H, W] or ``image`` [C, H, W], float32 in [0, 1], of one shape that
    collates; the same seed gives the same samples; ``set_epoch`` (when present) keeps
    samples a function of the epoch; ``num_corrupt`` (when present) is an int.
    """
    report = _Report(f"dataset {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    for split in splits:
        dataset = None
        with report.check(f"{split}: builds"):
            dataset = factory(opts, split=split, seed=seed)
            _expect(isinstance(dataset, protocols.Dataset), "expected __len__ and __getitem__")
            _expect(len(dataset) > 0, "no samples")
        if dataset is None or not len(dataset):
            continue
        indices = sorted({0, len(dataset) // 2, len(dataset) - 1})
        with report.check(f"{split}: samples are frames [N, C, H, W] or image [C, H, W] in [0, 1]"):
            samples = [dataset[i] for i in indices]
            for i, sample in zip(indices, samples, strict=True):
                _expect(isinstance(sample, dict), f"sample {i} is a {type(sample).__name__}, expected a dict")
                key = "frames" if "frames" in sample else "image"
                _expect(key in sample, f"sample {i} has neither 'frames' nor 'image' (keys {list(sample)})")
                value = sample[key]
                _expect(
                    value.dim() == (4 if key == "frames" else 3),
                    f"sample {i}: {key} of shape {tuple(value.shape)}",
                )
                _expect(value.dtype == torch.float32, f"sample {i}: {key} is {value.dtype}, expected float32")
                _expect(
                    float(value.min()) >= 0 and float(value.max()) <= 1,
                    f"sample {i}: {key} in [{float(value.min()):.3g}, {float(value.max()):.3g}], expected "
                    "[0, 1]",
                )
            default_collate(samples)  # one shape per key, or the loader fails
        with report.check(f"{split}: the same seed gives the same samples"):
            again = factory(opts, split=split, seed=seed)
            _expect(len(again) == len(dataset), "another length")
            for i in indices:
                a, b = dataset[i], again[i]
                _expect(
                    all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], Tensor)), f"sample {i} differs"
                )
        if hasattr(dataset, "set_epoch"):
            with report.check(f"{split}: samples are a function of the epoch"):
                dataset.set_epoch(1)
                first = dataset[0]
                again = factory(opts, split=split, seed=seed)
                again.set_epoch(1)
                second = again[0]
                _expect(
                    all(torch.equal(first[k], second[k]) for k in first if isinstance(first[k], Tensor)),
                    "differs",
                )
        if hasattr(dataset, "num_corrupt"):
            with report.check(f"{split}: num_corrupt is an int"):
                _expect(isinstance(dataset.num_corrupt, int), f"got {type(dataset.num_corrupt).__name__}")
    report.finish()


# ----------------------------------------------------------------------------------------------
# metric
# ----------------------------------------------------------------------------------------------


def check_metric(
    factory: Callable[..., Any], options: Any = None, *, channels: int = 3, size: int = 32, batch: int = 4
) -> None:
    """The metric contract: ``factory(options)`` -> ``update(pred, target)`` / ``compute()`` / ``reset()``.

    Checks: ``name`` and ``higher_is_better``; ``update`` returns [B] values or None and
    leaves its inputs unchanged; ``compute`` a float; ``reset`` forgets; the score does not
    depend on how the samples are split into batches; for per-sample metrics a perfect
    prediction scores better than a noisy one.
    """
    report = _Report(f"metric {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    g = torch.Generator().manual_seed(0)
    target = torch.rand(batch, channels, size, size, generator=g)  # (B, C, H, W)
    noisy = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    metric = None
    with report.check("builds with name and higher_is_better"):
        metric = factory(opts)
        _expect(
            isinstance(metric, protocols.Metric), "expected name, higher_is_better, reset, update, compute"
        )
        _expect(isinstance(metric.name, str) and metric.name, f"name {metric.name!r}")
        _expect(isinstance(metric.higher_is_better, bool), f"higher_is_better {metric.higher_is_better!r}")
    if metric is None:
        report.finish()
        return
    per_sample = False
    whole = math.nan
    with report.check("update returns [B] values or None, compute a float"):
        before = noisy.clone(), target.clone()
        values = metric.update(noisy, target)
        _expect(torch.equal(noisy, before[0]) and torch.equal(target, before[1]), "update changed its inputs")
        if values is not None:
            per_sample = True
            _expect(
                tuple(values.shape) == (batch,),
                f"update returned shape {tuple(values.shape)}, expected ({batch},)",
            )
        whole = metric.compute()
        _expect(isinstance(whole, float), f"compute returned {type(whole).__name__}, expected float")
    with report.check("reset forgets"):
        metric.reset()
        metric.update(noisy, target)
        again = metric.compute()
        _expect(
            again == whole or (math.isnan(again) and math.isnan(whole)),
            f"{again} after reset, {whole} before",
        )
    with report.check("the score does not depend on the batching"):
        metric.reset()
        half = batch // 2
        metric.update(noisy[:half], target[:half])
        metric.update(noisy[half:], target[half:])
        split = metric.compute()
        same = math.isclose(split, whole, rel_tol=1e-5, abs_tol=1e-8) or (
            math.isnan(split) and math.isnan(whole)
        )
        _expect(same, f"{split} in two batches, {whole} in one")
    if per_sample:
        with report.check("a perfect prediction scores better than a noisy one"):
            metric.reset()
            metric.update(target, target)
            perfect = metric.compute()
            better = perfect > whole if metric.higher_is_better else perfect < whole
            _expect(better, f"{perfect} for a perfect prediction, {whole} for a noisy one")
    report.finish()


# ----------------------------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------------------------


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
    report = _Report(f"loss {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    loss = None
    with report.check("builds with kind 'regression' or 'diffusion'"):
        loss = factory(opts)
        _expect(
            getattr(loss, "kind", None) in ("regression", "diffusion"),
            f"kind {getattr(loss, 'kind', None)!r}",
        )
    if loss is None or getattr(loss, "kind", None) not in ("regression", "diffusion"):
        report.finish()
        return
    g = torch.Generator().manual_seed(0)
    target = torch.rand(batch, channels, size, size, generator=g) * 2 - 1  # (B, C, H, W)
    if loss.kind == "regression":
        noisy = target + 0.3 * torch.randn(target.shape, generator=g)
        with report.check("a finite scalar with a gradient to pred"):
            pred = noisy.clone().requires_grad_(True)
            value = loss(pred, target)
            _expect(
                isinstance(value, Tensor) and value.dim() == 0, f"expected a scalar tensor, got {value!r}"
            )
            _expect(bool(torch.isfinite(value)), f"loss {float(value.detach())}")
            _expect(value.requires_grad, "no gradient reaches pred (the loss is detached)")
            value.backward()
            _expect(pred.grad is not None and bool(pred.grad.abs().sum() > 0), "no gradient reaches pred")
        with report.check("a perfect prediction has a smaller loss"):
            _expect(float(loss(target, target)) < float(loss(noisy, target)), "not smaller")
        with report.check("deterministic"):
            _expect(torch.equal(loss(noisy, target), loss(noisy, target)), "two calls differ")
    else:
        schedule = BetaSchedule(torch.linspace(1e-4, 0.02, 100, dtype=torch.float64), "linear")

        def run(state: dict[str, Any] | None = None) -> tuple[Any, nn.Module, Any]:
            torch.manual_seed(0)
            model = TinyBackbone(channels, channels)
            fresh = factory(opts)
            if state is not None:
                fresh.load_state_dict(state, schedule)
            out = fresh(lambda x, t, **_: model(x, t), target, schedule, torch.Generator().manual_seed(1))
            return out, model, fresh

        with report.check("a finite scalar loss that trains the model"):
            out, model, _ = run()
            _expect(out.loss.dim() == 0 and bool(torch.isfinite(out.loss)), f"loss {out.loss!r}")
            out.loss.backward()
            _expect(all(p.grad is not None for p in model.parameters()), "no gradient reaches the model")
        with report.check("the same generator seed gives the same loss"):
            _expect(torch.equal(run()[0].loss, run()[0].loss), "two calls differ")
        with report.check("state_dict is JSON-able and loads back"):
            _, _, used = run()
            state = used.state_dict()
            json.dumps(state)
            run(state)
    report.finish()


# ----------------------------------------------------------------------------------------------
# schedule
# ----------------------------------------------------------------------------------------------


def check_schedule(factory: Callable[..., Any], options: Any = None) -> None:
    """The schedule contract: ``factory(options)`` -> float64 tables indexed by training step.

    Checks: T >= 2; betas in (0, 1]; alpha_bar = cumprod(1 - beta), float64, in [0, 1],
    positive at t = 0, non-increasing in t; ``add_noise`` keeps the shape; deterministic.
    """
    report = _Report(f"schedule {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    schedule = None
    with report.check("builds"):
        schedule = factory(opts)
        _expect(isinstance(schedule, protocols.Schedule), "expected name, betas, alphas_cumprod, add_noise")
    if schedule is None:
        report.finish()
        return
    with report.check("float64 tables of T entries, T >= 2"):
        T = schedule.num_train_timesteps
        _expect(T >= 2, f"T = {T}")
        for name in ("betas", "alphas_cumprod"):
            table = getattr(schedule, name)
            _expect(table.dtype == torch.float64, f"{name} is {table.dtype}")
            _expect(tuple(table.shape) == (T,), f"{name} has shape {tuple(table.shape)}, expected ({T},)")
    with report.check("betas in (0, 1] and alpha_bar their cumulative product"):
        betas, ab = schedule.betas, schedule.alphas_cumprod
        _expect(bool(((betas > 0) & (betas <= 1)).all()), "a beta outside (0, 1]")
        _expect(
            torch.allclose(ab, torch.cumprod(1 - betas, 0), rtol=1e-9, atol=1e-12),
            "alpha_bar != cumprod(1 - beta)",
        )
    with report.check("alpha_bar in [0, 1], positive at t = 0, non-increasing"):
        ab = schedule.alphas_cumprod
        _expect(bool(((ab >= 0) & (ab <= 1)).all()) and float(ab[0]) > 0, "out of range")
        _expect(bool((ab[1:] <= ab[:-1]).all()), "alpha_bar rises somewhere")
    with report.check("add_noise keeps the shape"):
        x0 = torch.zeros(2, 3, 4, 4)
        out = schedule.add_noise(x0, torch.ones_like(x0), torch.tensor([0, schedule.num_train_timesteps - 1]))
        _expect(out.shape == x0.shape, f"shape {tuple(out.shape)}")
    with report.check("deterministic"):
        _expect(torch.equal(factory(opts).alphas_cumprod, schedule.alphas_cumprod), "two builds differ")
    report.finish()


# ----------------------------------------------------------------------------------------------
# sampler
# ----------------------------------------------------------------------------------------------


def _alpha_bar_at(schedule: Any, t: Tensor) -> Tensor:
    """alpha_bar at float training steps, with sigma = sqrt((1 - ab) / ab) linear in t between entries."""
    ab = schedule.alphas_cumprod.clamp(min=2.0**-24)
    sigma = ((1 - ab) / ab).sqrt()  # (T,)
    t = t.double().clamp(0, len(ab) - 1)
    lo = t.floor().long().clamp(max=len(ab) - 2)
    s = torch.lerp(sigma[lo], sigma[lo + 1], t - lo)  # (B,)
    return 1 / (1 + s**2)


def point_mass_denoiser(
    schedule: Any, x0: Tensor, prediction_type: str
) -> Callable[[Tensor, Tensor], Tensor]:
    """The exact model of data that is always ``x0``: any correct sampler must return ``x0``."""

    def model_fn(x: Tensor, t: Tensor) -> Tensor:
        ab = _alpha_bar_at(schedule, t).to(x.dtype).reshape(-1, 1, 1, 1)  # (B, 1, 1, 1)
        eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()  # (B, C, H, W)
        if prediction_type == "eps":
            return eps
        if prediction_type == "x0":
            return x0.expand_as(x)
        return ab.sqrt() * eps - (1 - ab).sqrt() * x0  # v (Salimans & Ho 2022)

    return model_fn


def check_sampler(
    factory: Callable[..., Any],
    options: Any = None,
    *,
    num_steps: int = 10,
    prediction_types: tuple[str, ...] = ("eps", "x0", "v"),
    atol: float = 0.05,
) -> None:
    """The sampler contract: ``factory(options)`` -> ``sample(model_fn, noise, schedule, ...)``.

    Checks, on DDPM's linear schedule (T = 1000): ``timesteps`` is a (num_steps,) grid
    within [0, T-1], noisiest first; given the exact denoiser of data that is one fixed
    image (``point_mass_denoiser``), the sample is that image to within ``atol`` (mean
    absolute error) for each prediction type; ``record`` gives one (x_t, pred_x0) per step,
    on the CPU; the same generator seed gives the same sample and torch's global RNG is
    not touched.
    """
    report = _Report(f"sampler {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    schedule = BetaSchedule(torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), "linear")
    sampler = None
    with report.check("builds"):
        sampler = factory(opts)
        _expect(isinstance(sampler, protocols.Sampler), "expected timesteps(schedule, n) and sample(...)")
    if sampler is None:
        report.finish()
        return
    with report.check("timesteps: a (num_steps,) grid in [0, T-1], noisiest first"):
        grid = sampler.timesteps(schedule, num_steps)
        _expect(tuple(grid.shape) == (num_steps,), f"shape {tuple(grid.shape)}")
        _expect(
            float(grid.min()) >= 0 and float(grid.max()) <= 999,
            f"range [{float(grid.min())}, {float(grid.max())}]",
        )
        _expect(bool((grid[1:] <= grid[:-1]).all()), "not non-increasing")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 8, 8, generator=g) * 1.6 - 0.8  # (B, C, H, W) in [-0.8, 0.8]
    noise = torch.randn(x0.shape, generator=g)
    for prediction_type in prediction_types:
        with report.check(f"returns the data under its exact {prediction_type} denoiser"):
            result = sampler.sample(
                point_mass_denoiser(schedule, x0, prediction_type),
                noise,
                schedule,
                num_steps=num_steps,
                prediction_type=prediction_type,
                generator=torch.Generator().manual_seed(1),
            )
            _expect(result.x0.shape == x0.shape, f"sample of shape {tuple(result.x0.shape)}")
            error = float((result.x0 - x0).abs().mean())
            _expect(error < atol, f"mean |sample - data| = {error:.3g}, expected < {atol}")
    with report.check("record: one (x_t, pred_x0) per step, on the CPU"):
        result = sampler.sample(
            point_mass_denoiser(schedule, x0, "eps"), noise, schedule, num_steps=num_steps,
            generator=torch.Generator().manual_seed(1), record=True,
        )  # fmt: skip
        trajectory = result.trajectory or []
        _expect(len(trajectory) == num_steps, f"{len(trajectory)} steps recorded, expected {num_steps}")
        _expect(all(s[0].shape == x0.shape and s[1].device.type == "cpu" for s in trajectory), "wrong shapes")
    with report.check("the same generator seed gives the same sample; global RNG untouched"):
        state = torch.get_rng_state()

        def draw() -> Tensor:
            return sampler.sample(
                point_mass_denoiser(schedule, x0, "eps"), noise, schedule, num_steps=num_steps,
                generator=torch.Generator().manual_seed(7),
            ).x0  # fmt: skip

        _expect(torch.equal(draw(), draw()), "two samples differ")
        _expect(torch.equal(state, torch.get_rng_state()), "the global RNG was used")
    report.finish()


# ----------------------------------------------------------------------------------------------
# tracker
# ----------------------------------------------------------------------------------------------


def check_tracker(factory: Callable[..., Any], options: Any = None, *, directory: Path | str) -> None:
    """The tracker contract: ``factory(options, *, run)`` records hparams, scalars, images, files.

    Checks, in a run under ``directory``: every method takes the documented values;
    ``run_id`` is a str or None; a second tracker built with ``resume_id = run_id`` records
    more and closes.
    """
    report = _Report(f"tracker {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    root = Path(directory)
    run = RunInfo("conformance", "run-1", root / "run-1", root)
    run.directory.mkdir(parents=True, exist_ok=True)
    file = run.directory / "notes.txt"
    file.write_text("conformance\n")
    run_id = None
    with report.check("records hparams, scalars, images and files"):
        tracker = factory(opts, run=run)
        _expect(
            isinstance(tracker, protocols.Tracker),
            "expected log_hparams, log_scalars, log_images, log_file, close",
        )
        try:
            tracker.log_hparams({"seed": 0, "model": {"name": "x", "width": 8}, "lr": 1e-3, "tags": ["a"]})
            tracker.log_scalars({"loss": 0.5, "lr": 1e-3}, step=1)
            tracker.log_scalars({"model/psnr": 30.0, "blend/psnr": 25.0}, step=1, context="eval")
            tracker.log_images({"samples": torch.rand(3, 8, 8)}, step=1)
            tracker.log_file(file, "notes.txt")
            run_id = tracker.run_id
            _expect(run_id is None or isinstance(run_id, str), f"run_id {run_id!r}")
        finally:
            tracker.close()
    with report.check("resumes the run from its run_id"):
        again = factory(opts, run=attrs.evolve(run, resume_id=run_id))
        try:
            again.log_scalars({"loss": 0.25}, step=2)
        finally:
            again.close()
    report.finish()


# ----------------------------------------------------------------------------------------------
# task
# ----------------------------------------------------------------------------------------------


def _load_recipe(recipe: Any, registry: Registry, overrides: tuple[str, ...]) -> Any:
    from dvcore import recipe as recipes

    if isinstance(recipe, recipes.Recipe):
        return recipe
    if isinstance(recipe, str) and "\n" in recipe:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recipe.toml"
            path.write_text(recipe)
            return recipes.load(path, overrides, registry=registry)
    return recipes.load(Path(recipe), overrides, registry=registry)


def check_task(
    recipe: Any,
    *,
    registry: Registry | None = None,
    overrides: tuple[str, ...] = (),
    batch: int = 2,
    eval_batches: int = 1,
) -> None:
    """The task contract, on the task a recipe names (a ``Recipe``, a TOML path, or TOML text).

    The task is built through the registry as ``dvcore run`` builds it, with the recipe's
    backbone. Checks: ``channels`` are positive ints that build the backbone; ``datasets``
    has non-empty train and eval splits; ``training_loss`` on a collated batch is a finite
    scalar that trains the model, with float extras; two tasks built from the recipe give
    the same loss, and a task given the other's ``state_dict`` (JSON-able) continues where
    it stopped; ``evaluate`` returns scores named ``"<predictor>/<metric>"`` and images
    (3, H, W) in [0, 1]; ``summary`` is JSON-able.
    """
    if registry is None:
        from dvcore.plugins import registry as installed

        registry = installed()
    loaded = _load_recipe(recipe, registry, overrides)
    report = _Report(f"task {loaded.task.name!r}")
    component = registry.get("task", loaded.task.name)
    _check_options(loaded.task.options if loaded.task.options is not None else component.options, report)

    def build() -> Any:
        return component.build(loaded.task.options, recipe=loaded, registry=registry)

    task = model = train_batch = None
    with report.check("builds, with positive channels and a backbone for them"):
        task = build()
        _expect(isinstance(task, protocols.Task), "expected channels, datasets, training_loss, evaluate, ...")
        c_in, c_out = task.channels()
        _expect(
            isinstance(c_in, int) and isinstance(c_out, int) and c_in > 0 and c_out > 0, f"{(c_in, c_out)}"
        )
        torch.manual_seed(0)
        model = registry.get("backbone", loaded.model.name).build(
            loaded.model.options, in_channels=c_in, out_channels=c_out
        )
    if task is None or model is None:
        report.finish()
        return
    with report.check("train and eval splits with samples"):
        splits = task.datasets()
        _expect({"train", "eval"} <= set(splits), f"splits {sorted(splits)}")
        _expect(len(splits["train"]) > 0 and len(splits["eval"]) > 0, "an empty split")
        train_batch = default_collate([splits["train"][i] for i in range(min(batch, len(splits["train"])))])
    if train_batch is None:
        report.finish()
        return
    with report.check("training_loss: a finite scalar that trains the model"):
        state = json.loads(json.dumps(task.state_dict()))
        model.train()
        loss, extras = task.training_loss(model, train_batch)
        _expect(loss.dim() == 0 and bool(torch.isfinite(loss)), f"loss {loss!r}")
        _expect(all(isinstance(float(v), float) for v in extras.values()), "extras are not numbers")
        loss.backward()
        _expect(
            any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters()),
            "no gradient",
        )
        twin = build()
        twin.load_state_dict(state)
        again, _ = twin.training_loss(model, train_batch)
        _expect(
            torch.equal(loss.detach(), again.detach()), "a task restored from state_dict gives another loss"
        )
        after = json.loads(json.dumps(task.state_dict()))
        third = build()
        third.load_state_dict(after)
        next_loss, _ = task.training_loss(model, train_batch)
        resumed, _ = third.training_loss(model, train_batch)
        _expect(
            torch.equal(next_loss.detach(), resumed.detach()),
            "resuming from state_dict changes the next loss",
        )
    with report.check("evaluate: scores '<predictor>/<metric>' and images (3, H, W) in [0, 1]"):
        model.eval()
        eval_set = task.datasets()["eval"]
        batches = [
            default_collate([eval_set[i] for i in range(s, min(s + batch, len(eval_set)))])
            for s in range(0, min(len(eval_set), batch * eval_batches), batch)
        ]
        with torch.no_grad():
            result = task.evaluate(model, batches)
        bad = [k for k in result.scores if k.count("/") != 1]
        _expect(not bad, f"score names without one '/': {bad[:3]}")
        _expect(all(isinstance(float(v), float) for v in result.scores.values()), "a score is not a number")
        for name, image in result.images.items():
            _expect(image.dim() == 3 and image.shape[0] == 3, f"image {name!r} of shape {tuple(image.shape)}")
            _expect(float(image.min()) >= 0 and float(image.max()) <= 1, f"image {name!r} outside [0, 1]")
    with report.check("summary is JSON-able"):
        json.dumps(task.summary())
    report.finish()


# ----------------------------------------------------------------------------------------------
# baseline
# ----------------------------------------------------------------------------------------------


def check_baseline(
    factory: Callable[..., Any], options: Any = None, *, num_frames: int = 5, size: int = 16, batch: int = 2
) -> None:
    """The baseline contract: ``factory(options)`` -> ``baseline(context)``, context frames -> middle frame.

    Checks: context [B, N-1, C, H, W] in [0, 1] gives a finite [B, C, H, W] in [0, 1]
    (C = 1 and 3); the same input gives the same output; the inputs are left unchanged;
    a still scene (every context frame the same image) gives that image (to 2/255).
    """
    report = _Report(f"baseline {getattr(factory, '__name__', factory)!r}")
    opts = _resolve(options, report)
    if opts is None:
        report.finish()
    baseline = None
    with report.check("builds"):
        baseline = factory(opts)
        _expect(callable(baseline), "expected a callable: baseline(context) -> frame")
    if baseline is None:
        report.finish()
        return
    g = torch.Generator().manual_seed(0)
    for channels in (3, 1):
        context = torch.rand(batch, num_frames - 1, channels, size, size, generator=g)  # (B, N-1, C, H, W)
        with report.check(f"{channels} channels: a finite frame [B, C, H, W] in [0, 1], deterministic"):
            before = context.clone()
            out = baseline(context)
            _expect(torch.equal(context, before), "the context was changed")
            _expect(tuple(out.shape) == (batch, channels, size, size), f"shape {tuple(out.shape)}")
            _expect(bool(torch.isfinite(out).all()), "not finite")
            _expect(float(out.min()) >= 0 and float(out.max()) <= 1, "outside [0, 1]")
            _expect(torch.equal(out, baseline(context)), "two calls differ")
        with report.check(f"{channels} channels: a still scene gives its frame"):
            still = context[:, :1].expand(-1, num_frames - 1, -1, -1, -1).contiguous()
            error = float((baseline(still) - context[:, 0]).abs().max())
            _expect(error <= 2 / 255, f"max error {error:.3g}")
    report.finish()


# ----------------------------------------------------------------------------------------------
# by registered name
# ----------------------------------------------------------------------------------------------


def _register_kit_backbone(registrar: Any) -> None:
    registrar.add(
        "backbone",
        "kit_tiny",
        lambda options, *, in_channels, out_channels: TinyBackbone(in_channels, out_channels),
        doc="the conformance kit's tiny conditional conv net",
    )


def kit_registry() -> Registry:
    """The installed components plus the kit's backbone ``kit_tiny`` (``TinyBackbone``).

    For tests of a task, dataset or metric that need some backbone in a recipe without
    depending on a backbone plugin: ``check_task(recipe, registry=kit_registry())`` with
    ``[model] name = "kit_tiny"``.
    """
    from dvcore.hookspecs import hookimpl
    from dvcore.plugins import load

    module = types.ModuleType("dvcore_testing_kit")
    module.dvcore_register_components = hookimpl(_register_kit_backbone)  # type: ignore[attr-defined]
    return load(strict=False, extra_plugins={"dvcore.testing": module}).registry


_CHECKS: dict[str, Callable[..., None]] = {
    "backbone": check_backbone,
    "dataset": check_dataset,
    "metric": check_metric,
    "loss": check_loss,
    "schedule": check_schedule,
    "sampler": check_sampler,
    "tracker": check_tracker,
    "baseline": check_baseline,
}


def check_component(
    kind: str, name: str, options: Any = None, *, registry: Registry | None = None, **kwargs: Any
) -> None:
    """Run ``check_<kind>`` on a registered component (its registration included); ``kwargs`` go to the check.

    ``options`` defaults to the component's options class (its defaults). Tasks need a
    recipe: use ``check_task``.
    """
    if registry is None:
        from dvcore.plugins import registry as installed

        registry = installed()
    if kind not in _CHECKS:
        raise ValueError(f"expected a kind among {', '.join(_CHECKS)} (tasks: check_task), got {kind!r}")
    component = registry.get(kind, name)
    _CHECKS[kind](component.factory, component.options if options is None else options, **kwargs)
