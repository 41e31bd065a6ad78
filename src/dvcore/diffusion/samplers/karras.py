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

import attrs
import torch

from dvcore.diffusion.samplers.base import (
    Denoiser,
    Generator,
    Grid,
    Sampler,
    SamplerOptions,
)
from dvcore.diffusion.schedules import Schedule
from dvcore.diffusion.spacing import sigma_grid
from dvcore.options import gt, opt

Tensor = torch.Tensor


@attrs.frozen
class KarrasOptions(SamplerOptions):
    """Euler / Heun over sigmas."""

    use_karras_sigmas: bool = opt(False, "place sigmas by Karras et al. 2022, eq. 5 (rho spacing)")
    karras_rho: float = opt(7.0, "rho of the Karras spacing", gt(0))


class _SigmaSampler(Sampler):
    """Shared grid of the sigma-space samplers; Euler and Heun differ by the corrector alone."""

    options: KarrasOptions
    heun: bool = False

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        o = self.options
        ts, sigmas = sigma_grid(  # (n,), (n+1,) by sampling step; the sigmas end with 0
            schedule,
            num_steps,
            o.timestep_spacing,
            o.steps_offset,
            use_karras_sigmas=o.use_karras_sigmas,
            rho=o.karras_rho,
        )
        return Grid(ts, [1 / (1 + s**2) for s in sigmas.tolist()])  # alpha_bar = 1 / (1 + sigma^2)

    def initial_scale(self, grid: Grid) -> float:
        """sigma_max, or sqrt(sigma_max^2 + 1) with leading spacing (diffusers' rule)."""
        sigma_max = max(ve_sigma(grid, i) for i in range(len(grid)))
        return sigma_max if self.options.timestep_spacing != "leading" else math.sqrt(sigma_max**2 + 1)

    def loop(self, denoise: Denoiser, z: Tensor, grid: Grid, generator: Generator) -> Tensor:
        """``z`` (B, C, H, W) = x0 + sigma eps; the model sees z * sqrt(alpha_bar)."""
        s = [ve_sigma(grid, i) for i in range(len(grid) + 1)]
        for i in range(len(grid)):
            pred_x0 = denoise(z * grid.alpha(i), i).x0
            d = (z - pred_x0) / s[i]  # dz/dsigma, Karras et al. 2022 eqs. 1, 3 (algorithm 1, line 4)
            dt = s[i + 1] - s[i]
            if not self.heun or s[i + 1] == 0:
                z = z + d * dt  # Euler step (algorithm 1, line 5); no correction at sigma = 0 (line 6)
                continue
            z_euler = z + d * dt
            pred_x0_next = denoise(z_euler * grid.alpha(i + 1), i + 1, report=False).x0
            d_next = (z_euler - pred_x0_next) / s[i + 1]  # algorithm 1, line 7
            z = z + (d + d_next) / 2 * dt  # trapezoidal correction, algorithm 1, line 8
        return z


def ve_sigma(grid: Grid, i: int) -> float:
    """The variance-exploding sigma = sqrt((1 - alpha_bar) / alpha_bar) at sampling step i."""
    ab = grid.alphas_cumprod[i]
    return math.sqrt((1 - ab) / ab)


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
