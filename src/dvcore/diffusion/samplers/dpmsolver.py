"""DPM-Solver++ multistep (Lu et al. 2022b, "DPM-Solver++"), orders 1 and 2.

The solver integrates the diffusion ODE in the data-prediction form over the half-log-SNR
lambda = log(alpha / sigma), alpha = sqrt(alpha_bar), sigma = sqrt(1 - alpha_bar). With
h = lambda_next - lambda_i and D the model's x0 estimate:

- order 1: x_next = (sigma_next / sigma_i) x_i - alpha_next (e^-h - 1) x0_i   (= DDIM, eta = 0)
- order 2 (2M, Lu et al. 2022b, algorithm 2): the same with
  D = x0_i + (x0_i - x0_{i-1}) / (2 r),  r = (lambda_i - lambda_{i-1}) / h.

The first step is first order (no history). The last step is first order when it goes to
sigma = 0 (its lambda is infinite) or, with ``lower_order_final``, when there are fewer than
15 steps, which stabilises few-step sampling.

Grid: DPM-Solver's own (see ``spacing.spaced_timesteps(solver_grid=True)``): n model calls at
t_0 > ... > t_{n-1} and a final step to sigma = 0 (``final_sigma = "zero"``) or to the
sigma of training step 0. All tensors of t here are indexed by sampling step.
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
)
from dvcore.diffusion.schedules import Schedule
from dvcore.diffusion.spacing import spaced_timesteps
from dvcore.options import ge, le, opt

Tensor = torch.Tensor


@attrs.frozen
class DPMSolverOptions(SamplerOptions):
    """DPM-Solver++ multistep (2M)."""

    solver_order: int = opt(2, "1 = DDIM-equivalent first order, 2 = DPM-Solver++(2M)", ge(1), le(2))
    lower_order_final: bool = opt(True, "first-order final step when sampling with fewer than 15 steps")
    final_sigma: Literal["zero", "sigma_min"] = opt(
        "zero", "the last step ends at sigma 0 (clean) or at the sigma of training step 0"
    )


class DPMSolverSampler(Sampler):
    """DPM-Solver++ (Lu et al. 2022b), multistep, data prediction."""

    name = "dpmsolver++"
    options: DPMSolverOptions

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        o = self.options
        T = schedule.num_train_timesteps
        ts = torch.from_numpy(
            spaced_timesteps(T, num_steps, o.timestep_spacing, o.steps_offset, solver_grid=True)
        )
        ab = schedule.sampling_alphas_cumprod()  # alpha_bar by training step, finite log-SNR
        return Grid(ts, [*ab[ts.long()].tolist(), 1.0 if o.final_sigma == "zero" else float(ab[0])])

    def loop(self, denoise: Denoiser, x: Tensor, grid: Grid, generator: Generator) -> Tensor:
        o, n = self.options, len(grid)
        alpha = [grid.alpha(i) for i in range(n + 1)]  # by sampling step, then the end point
        sigma = [grid.sigma(i) for i in range(n + 1)]
        lam = [math.log(a) - math.log(s) if s > 0 else math.inf for a, s in zip(alpha, sigma, strict=True)]
        prev_x0 = None
        for i in range(n):
            pred_x0 = denoise(x, i).x0
            last = i == n - 1
            first_order = (
                o.solver_order == 1
                or prev_x0 is None
                or (last and (sigma[i + 1] == 0 or (o.lower_order_final and n < 15)))
            )
            if sigma[i + 1] == 0:
                x = pred_x0  # the first-order step to sigma = 0 returns x0 exactly
            else:
                h = lam[i + 1] - lam[i]
                d = pred_x0
                if not first_order and prev_x0 is not None:  # (first_order whenever prev_x0 is None)
                    r = (lam[i] - lam[i - 1]) / h
                    d = pred_x0 + (pred_x0 - prev_x0) / (2 * r)  # DPM-Solver++(2M), algorithm 2
                x = (sigma[i + 1] / sigma[i]) * x - (alpha[i + 1] * math.expm1(-h)) * d
            prev_x0 = pred_x0
        return x


def build_dpmsolver(options: DPMSolverOptions) -> DPMSolverSampler:
    """DPM-Solver++(2M) multistep (Lu et al. 2022b)."""
    return DPMSolverSampler(options)
