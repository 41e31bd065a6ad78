"""Which training steps a sampler visits: timestep spacing and Karras sigmas.

Spacings (Lin et al. 2023, table 2), for T training steps and n sampling steps, descending:

- ``linspace``: n points evenly from T-1 to 0, rounded (or kept fractional by sigma-space samplers).
- ``leading``: 0, r, 2r, ... (n-1)r with r = T // n, plus ``steps_offset``; starts below T-1.
- ``trailing``: T - k T/n - 1 for k = 0 .. n-1, rounded; starts at T-1, the most common choice
  when the schedule ends at (or near) zero SNR.

The result is indexed by **sampling step** i = 0 .. n-1 and holds **training steps**.
Numbers follow numpy (round half to even), as diffusers does, so step grids agree exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from dvcore.diffusion.schedules import Schedule

Tensor = torch.Tensor
Spacing = Literal["linspace", "leading", "trailing"]


def check_num_steps(num_steps: int, T: int) -> None:
    if not 1 <= num_steps <= T:
        raise ValueError(f"expected 1 <= num_steps <= {T} (the training steps), got {num_steps}")


def spaced_timesteps(
    T: int,
    num_steps: int,
    spacing: str,
    steps_offset: int = 0,
    *,
    rounded: bool = True,
    solver_grid: bool = False,
) -> np.ndarray:
    """Training steps visited at each sampling step, (num_steps,) float64, descending.

    rounded: round linspace points to integers (discrete samplers); sigma-space samplers
        (Euler, Heun) keep them fractional and interpolate sigma.
    solver_grid: DPM-Solver's grid: place num_steps + 1 points as for linspace / leading and drop
        the last one (t ~ 0), because the solver's final step lands on sigma = 0 by itself.
        Trailing grids already stop at T/n - 1 and are unchanged.
    """
    check_num_steps(num_steps, T)
    n = num_steps + 1 if solver_grid and spacing in ("linspace", "leading") else num_steps
    if spacing == "linspace":
        ts = np.linspace(0, T - 1, n)
        ts = ts.round() if rounded else ts
        ts = ts[::-1]
    elif spacing == "leading":
        ts = (np.arange(n) * (T // n)).round()[::-1].astype(np.float64) + steps_offset
    elif spacing == "trailing":
        ts = np.round(T - np.arange(num_steps) * (T / num_steps)) - 1
    else:
        raise ValueError(f"expected timestep_spacing one of linspace, leading, trailing, got {spacing!r}")
    if n != num_steps:
        ts = ts[:-1]
    ts = np.array(ts, dtype=np.float64)  # a fresh copy: positive strides for torch.from_numpy
    if ts.max() > T - 1 or ts.min() < 0:
        raise ValueError(f"timesteps {ts.min():g}..{ts.max():g} leave the training range 0..{T - 1}")
    if len(ts) > 1 and not (np.diff(ts) < 0).all():
        raise ValueError(f"{num_steps} steps with {spacing} spacing repeat a training step; use fewer steps")
    return ts


def karras_sigmas(sigma_min: float, sigma_max: float, num_steps: int, rho: float = 7.0) -> Tensor:
    """sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho (Karras et al.
    2022, eq. 5).

    (num_steps,) float64, by sampling step, without the final 0.
    """
    ramp = torch.linspace(0, 1, num_steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas: Tensor = (hi + ramp * (lo - hi)) ** rho
    return sigmas


def sigma_grid(
    schedule: Schedule,
    num_steps: int,
    spacing: str,
    steps_offset: int = 0,
    *,
    use_karras_sigmas: bool = False,
    rho: float = 7.0,
) -> tuple[Tensor, Tensor]:
    """(timesteps (n,), sigmas (n+1,)) for sigma-space samplers, by sampling step; sigmas end with 0.

    Without Karras spacing the sigmas are the schedule's, interpolated linearly in t at the
    (fractional) spaced timesteps. With it, n sigmas from the spaced grid's first to last
    sigma are placed by Karras et al. 2022 eq. 5 and mapped back to float training steps.
    """
    ts = torch.from_numpy(
        spaced_timesteps(schedule.num_train_timesteps, num_steps, spacing, steps_offset, rounded=False)
    )
    sigmas = schedule.sigma_at(ts)  # (n,)
    if use_karras_sigmas:
        sigmas = karras_sigmas(float(sigmas[-1]), float(sigmas[0]), num_steps, rho)
        ts = schedule.timestep_at_sigma(sigmas)
    return ts, torch.cat([sigmas, sigmas.new_zeros(1)])
