"""Euler and Heun samplers over sigmas (Karras et al. 2022, "EDM", algorithm 1).

They integrate the probability-flow ODE in the variance-exploding variable
z = x_t / sqrt(alpha_bar) = x0 + sigma eps, sigma = sqrt((1 - alpha_bar) / alpha_bar):

    dz/dsigma = (z - D(z; sigma)) / sigma        (Karras et al. 2022, eqs. 1 and 3, sigma(t) = t, s(t) = 1)

where D is the model's x0 estimate. Euler takes one slope per step; Heun averages it with the
slope at the Euler prediction (algorithm 1, lines 6-8), except on the final step to sigma = 0.

The sigma grid (by sampling step, ending with 0) comes from the schedule's sigmas at the spaced,
fractional training steps, or from Karras et al.'s rho-spacing (``use_karras_sigmas``, eq. 5)
between the same end points with the matching float training steps. The model sees
x_t = z / sqrt(sigma^2 + 1) and the float training step, as under diffusers'
EulerDiscreteScheduler / HeunDiscreteScheduler with ``scale_model_input``.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
import torch

from dvcore.diffusion.prediction import x0_from
from dvcore.diffusion.samplers.base import (
    ModelFn,
    Sampler,
    SampleResult,
    TrajectoryStep,
    clip_sample_field,
    clip_sample_range_field,
    thresholding_field,
    thresholding_max_field,
    thresholding_ratio_field,
)
from dvcore.diffusion.schedules import Schedule
from dvcore.diffusion.spacing import sigma_grid
from dvcore.options import ge, gt, opt

Tensor = torch.Tensor


@attrs.frozen
class KarrasOptions:
    """Euler / Heun over sigmas."""

    timestep_spacing: Literal["linspace", "leading", "trailing"] = opt(
        "linspace", "how sampling steps are placed among the training steps (Lin et al. 2023, table 2)"
    )
    steps_offset: int = opt(0, "added to every timestep with leading spacing", ge(0))
    use_karras_sigmas: bool = opt(False, "place sigmas by Karras et al. 2022, eq. 5 (rho spacing)")
    karras_rho: float = opt(7.0, "rho of the Karras spacing", gt(0))
    clip_sample: bool = clip_sample_field(False)
    clip_sample_range: float = clip_sample_range_field()
    thresholding: bool = thresholding_field()
    thresholding_ratio: float = thresholding_ratio_field()
    thresholding_max: float | None = thresholding_max_field()


class _SigmaSampler(Sampler):
    """Shared grid and model call of the sigma-space samplers."""

    options: KarrasOptions
    heun: bool = False

    def grid(self, schedule: Schedule, num_steps: int) -> tuple[Tensor, Tensor]:
        """(timesteps (n,), sigmas (n+1,)) by sampling step; the sigmas end with 0."""
        o = self.options
        return sigma_grid(
            schedule,
            num_steps,
            o.timestep_spacing,
            o.steps_offset,
            use_karras_sigmas=o.use_karras_sigmas,
            rho=o.karras_rho,
        )

    def timesteps(self, schedule: Schedule, num_steps: int) -> Tensor:
        return self.grid(schedule, num_steps)[0]

    def init_noise_sigma(self, schedule: Schedule, num_steps: int) -> float:
        """sigma_max, or sqrt(sigma_max^2 + 1) with leading spacing (diffusers' rule)."""
        return self._init_sigma(self.grid(schedule, num_steps)[1])

    def _init_sigma(self, sigmas: Tensor) -> float:
        sigma_max = float(sigmas.max())
        return sigma_max if self.options.timestep_spacing != "leading" else math.sqrt(sigma_max**2 + 1)

    def _denoise(self, model_fn: ModelFn, z: Tensor, sigma: float, t: float, prediction_type: str):
        """(x_t given to the model, x0 estimate D(z; sigma)) at one noise level."""
        c = 1 / math.sqrt(sigma**2 + 1)  # sqrt(alpha_bar)
        x_t = z * c  # (B, C, H, W) variance-preserving input
        out, _ = self._call(model_fn, x_t, t)
        return x_t, self._process_x0(x0_from(out, x_t, c, sigma * c, prediction_type))

    def sample(
        self,
        model_fn: ModelFn,
        noise: Tensor,
        schedule: Schedule,
        *,
        num_steps: int,
        prediction_type: str = "eps",
        generator: torch.Generator | None = None,
        record: bool = False,
    ) -> SampleResult:
        self._check(prediction_type)
        ts, sigmas = self.grid(schedule, num_steps)  # (n,), (n+1,) by sampling step
        s, tl = sigmas.tolist(), ts.tolist()
        trajectory: list[TrajectoryStep] | None = [] if record else None
        z = noise * self._init_sigma(sigmas)  # (B, C, H, W) = x0 + sigma eps
        for i in range(len(tl)):
            x_t, pred_x0 = self._denoise(model_fn, z, s[i], tl[i], prediction_type)
            self._record(trajectory, x_t, pred_x0)
            d = (z - pred_x0) / s[i]  # dz/dsigma, Karras et al. 2022 eqs. 1, 3 (algorithm 1, line 4)
            dt = s[i + 1] - s[i]
            if not self.heun or s[i + 1] == 0:
                z = z + d * dt  # Euler step (algorithm 1, line 5); no correction at sigma = 0 (line 6)
                continue
            z_euler = z + d * dt
            _, pred_x0_next = self._denoise(model_fn, z_euler, s[i + 1], tl[i + 1], prediction_type)
            d_next = (z_euler - pred_x0_next) / s[i + 1]  # algorithm 1, line 7
            z = z + (d + d_next) / 2 * dt  # trapezoidal correction, algorithm 1, line 8
        return SampleResult(x0=z, trajectory=trajectory, timesteps=ts)


class EulerSampler(_SigmaSampler):
    """Euler's method over sigmas (Karras et al. 2022)."""

    name = "euler"
    heun = False


class HeunSampler(_SigmaSampler):
    """Heun's second-order method over sigmas (Karras et al. 2022, algorithm 1)."""

    name = "heun"
    heun = True


def build_euler(options: KarrasOptions) -> EulerSampler:
    """Euler over sigmas (Karras et al. 2022)."""
    return EulerSampler(options)


def build_heun(options: KarrasOptions) -> HeunSampler:
    """Heun over sigmas (Karras et al. 2022, algorithm 1)."""
    return HeunSampler(options)
