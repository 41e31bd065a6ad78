"""DDPM ancestral sampling (Ho et al. 2020), on any subset of the training steps.

Each step draws x_prev from the posterior q(x_prev | x_t, x0_hat) (Ho et al. 2020, eqs. 6-7)
with x0_hat from the model. On a strided grid t -> t' the step's own beta is
beta = 1 - alpha_bar_t / alpha_bar_t' (Nichol & Dhariwal 2021, sec. 4), so fewer steps reuse
the same formulas. The last step returns the posterior mean, without noise.

Variance of the step (Nichol & Dhariwal 2021, sec. 3.1):
- ``fixed_small``: the posterior variance beta_tilde = (1 - ab_t') / (1 - ab_t) beta (eq. 7),
- ``fixed_large``: beta,
- ``learned_range``: exp(v log beta + (1 - v) log beta_tilde), v = (out + 1)/2 from the
  model's extra C channels (iDDPM eq. 15).

Agrees with diffusers' DDPMScheduler step for step; one difference: diffusers adds noise on
the last step whenever its timestep is > 0 (trailing spacing, steps_offset > 0), which is
negligible for fixed_small (std 1e-10) but not for fixed_large; here the last step never
adds noise.
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
from dvcore.options import opt

Tensor = torch.Tensor


@attrs.frozen
class DDPMOptions(SamplerOptions):
    """Ancestral sampling from the DDPM posterior."""

    variance: Literal["fixed_small", "fixed_large", "learned_range"] = opt(
        "fixed_small", "step variance: posterior (small), beta (large), or learned from 2C model channels"
    )
    timestep_spacing: Literal["linspace", "leading", "trailing"] = spacing_field("trailing")
    clip_sample: bool = clip_sample_field(True)


class DDPMSampler(Sampler):
    """Ancestral sampler of Ho et al. 2020."""

    name = "ddpm"
    options: DDPMOptions

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        o = self.options
        return spaced_grid(schedule, num_steps, o.timestep_spacing, o.steps_offset, final=1.0)

    def loop(self, denoise: Denoiser, x: Tensor, grid: Grid, generator: Generator) -> Tensor:
        for i in range(len(grid)):
            ab_t, ab_prev = grid.alphas_cumprod[i], grid.alphas_cumprod[i + 1]  # now, next sampling step
            alpha = ab_t / ab_prev  # this step's alpha and beta (iDDPM sec. 4)
            beta = 1.0 - alpha
            pred = denoise(x, i)
            # posterior mean mu_tilde(x_t, x0) (Ho et al. 2020, eq. 7)
            coef_x0 = math.sqrt(ab_prev) * beta / (1 - ab_t)
            coef_xt = math.sqrt(alpha) * (1 - ab_prev) / (1 - ab_t)
            x = coef_x0 * pred.x0 + coef_xt * x  # (B, C, H, W)
            if i < len(grid) - 1:  # the last step returns the mean
                std = self._std(beta, (1 - ab_prev) / (1 - ab_t) * beta, pred.var)
                x = x + std * self.noise_like(x, generator)  # (B, C, H, W)
        return x

    def _std(self, beta: float, beta_tilde: float, var_out: Tensor | None) -> Tensor | float:
        """Standard deviation of the step (iDDPM sec. 3.1)."""
        beta_tilde = max(beta_tilde, 1e-20)
        if self.options.variance == "fixed_small":
            return math.sqrt(beta_tilde)
        if self.options.variance == "fixed_large":
            return math.sqrt(beta)
        if var_out is None:
            raise ValueError("variance 'learned_range' needs a model that returns 2C channels")
        frac = (var_out + 1) / 2  # (B, C, H, W) in [0, 1]
        log_var = frac * math.log(beta) + (1 - frac) * math.log(beta_tilde)  # iDDPM eq. 15
        return torch.exp(0.5 * log_var)


def build_ddpm(options: DDPMOptions) -> DDPMSampler:
    """DDPM ancestral sampling (Ho et al. 2020)."""
    return DDPMSampler(options)
