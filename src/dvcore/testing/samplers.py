"""The sampler contract: ``factory(options)`` -> ``sample(model_fn, noise, schedule, ...)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dvcore import protocols
from dvcore.diffusion.schedules import Schedule as BetaSchedule
from dvcore.testing.report import Report, build, expect, start

Tensor = torch.Tensor


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
    report, opts = start("sampler", factory, options)
    schedule = BetaSchedule(torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), "linear")
    expected = "expected timesteps(schedule, n) and sample(...)"
    sampler = build(report, lambda: factory(opts), protocols.Sampler, expected)
    with report.check("timesteps: a (num_steps,) grid in [0, T-1], noisiest first"):
        grid = sampler.timesteps(schedule, num_steps)
        expect(tuple(grid.shape) == (num_steps,), f"shape {tuple(grid.shape)}")
        expect(
            float(grid.min()) >= 0 and float(grid.max()) <= 999,
            f"range [{float(grid.min())}, {float(grid.max())}]",
        )
        expect(bool((grid[1:] <= grid[:-1]).all()), "not non-increasing")
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 8, 8, generator=g) * 1.6 - 0.8  # (B, C, H, W) in [-0.8, 0.8]
    noise = torch.randn(x0.shape, generator=g)
    _check_samples(report, sampler, schedule, x0, noise, num_steps, prediction_types, atol)
    report.finish()


def _check_samples(
    report: Report,
    sampler: Any,
    schedule: BetaSchedule,
    x0: Tensor,
    noise: Tensor,
    num_steps: int,
    prediction_types: tuple[str, ...],
    atol: float,
) -> None:
    def draw(prediction_type: str | None = None, seed: int = 1, **kwargs: Any) -> Any:
        """A sample under the exact denoiser (eps unless ``prediction_type``, which is then passed on)."""
        if prediction_type is not None:
            kwargs["prediction_type"] = prediction_type
        return sampler.sample(
            point_mass_denoiser(schedule, x0, prediction_type or "eps"), noise, schedule, num_steps=num_steps,
            generator=torch.Generator().manual_seed(seed), **kwargs,
        )  # fmt: skip

    for prediction_type in prediction_types:
        with report.check(f"returns the data under its exact {prediction_type} denoiser"):
            result = draw(prediction_type)
            expect(result.x0.shape == x0.shape, f"sample of shape {tuple(result.x0.shape)}")
            error = float((result.x0 - x0).abs().mean())
            expect(error < atol, f"mean |sample - data| = {error:.3g}, expected < {atol}")
    with report.check("record: one (x_t, pred_x0) per step, on the CPU"):
        trajectory = draw(record=True).trajectory or []
        expect(len(trajectory) == num_steps, f"{len(trajectory)} steps recorded, expected {num_steps}")
        expect(all(s[0].shape == x0.shape and s[1].device.type == "cpu" for s in trajectory), "wrong shapes")
    with report.check("the same generator seed gives the same sample; global RNG untouched"):
        state = torch.get_rng_state()
        expect(torch.equal(draw(seed=7).x0, draw(seed=7).x0), "two samples differ")
        expect(torch.equal(state, torch.get_rng_state()), "the global RNG was used")
