"""DDIM sampling (Song et al. 2021), deterministic at eta = 0.

x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - s^2) eps_hat + s z      (DDIM eq. 12)
s = eta sqrt((1 - ab_prev)/(1 - ab_t)) sqrt(1 - ab_t/ab_prev)               (DDIM eq. 16)

ab_prev is alpha_bar at the next sampling step, and after the last step 1 (or alpha_bar of
training step 0 with ``set_alpha_to_one = false``). eta = 1 is DDPM's posterior with the
fixed_small variance.

diffusers' DDIMScheduler steps from t to t - T // n whatever the spacing, which is the next
grid point only for leading spacing and for trailing spacing when n divides T; for linspace it
lands between grid points. Here every step goes to the next point of the grid, as in
diffusers' DDPM and DPM-Solver schedulers; where the two grids agree the samplers agree.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs
import torch

from dvcore.diffusion.samplers.base import (
    Denoiser,
    Generator,
    Grid,
    Sampler,
    SamplerOptions,
    clip_sample_field,
    spaced_grid,
    spacing_field,
)
from dvcore.diffusion.schedules import Schedule
from dvcore.options import ge, le, opt

Tensor = torch.Tensor


@attrs.frozen
class DDIMOptions(SamplerOptions):
    """Denoising diffusion implicit models: deterministic (eta = 0) to DDPM-like (eta = 1)."""

    eta: float = opt(0.0, "stochasticity: 0 = deterministic DDIM, 1 = DDPM posterior variance", ge(0), le(1))
    timestep_spacing: Literal["linspace", "leading", "trailing"] = spacing_field("trailing")
    set_alpha_to_one: bool = opt(True, "the last step goes to alpha_bar = 1 (else to alpha_bar of step 0)")
    clip_sample: bool = clip_sample_field(True)
    eps_from_clipped_x0: bool = opt(
        False, "recompute eps from the clipped x0 (diffusers' use_clipped_model_output); else the model's eps"
    )


class DDIMSampler(Sampler):
    """DDIM (Song et al. 2021)."""

    name = "ddim"
    options: DDIMOptions

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        o = self.options
        final = 1.0 if o.set_alpha_to_one else float(schedule.alphas_cumprod[0])
        return spaced_grid(schedule, num_steps, o.timestep_spacing, o.steps_offset, final=final)

    def loop(self, denoise: Denoiser, x: Tensor, grid: Grid, generator: Generator) -> Tensor:
        o = self.options
        for i in range(len(grid)):
            ab_t, ab_prev = grid.alphas_cumprod[i], grid.alphas_cumprod[i + 1]  # now, next sampling step
            pred = denoise(x, i)
            eps = (x - grid.alpha(i) * pred.x0) / grid.sigma(i) if o.eps_from_clipped_x0 else pred.eps
            var = (1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)  # DDIM eq. 16 with eta = 1
            std = o.eta * math.sqrt(var)
            x = math.sqrt(ab_prev) * pred.x0 + math.sqrt(max(1 - ab_prev - std**2, 0.0)) * eps  # eq. 12
            if o.eta > 0:
                x = x + std * self.noise_like(x, generator)
        return x


def build_ddim(options: DDIMOptions) -> DDIMSampler:
    """DDIM (Song et al. 2021); eta = 0 is deterministic."""
    return DDIMSampler(options)
