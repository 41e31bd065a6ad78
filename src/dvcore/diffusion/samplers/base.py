"""The sampler contract, and what every sampler shares.

Registry kind ``sampler``: ``factory(options) -> Sampler``. A sampler is not bound to a
schedule or a model; both are passed to ``sample``:

    result = sampler.sample(model_fn, noise, schedule, num_steps=50, prediction_type="v",
                            generator=g, record=True)
    result.x0                      # (B, C, H, W) the final sample
    result.trajectory              # [(x_t, pred_x0)] per sampling step, on the CPU (record=True)
    result.timesteps               # (n,) training steps fed to the model, by sampling step

``timesteps(schedule, num_steps)`` takes the schedule because the grid depends on T and, with
Karras sigmas, on the schedule's sigmas.

Conventions, the same for every sampler:

- ``model_fn(x, t)`` receives x in the variance-preserving convention
  ``x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps`` and t, a (B,) float tensor in
  training-step units (fractional for Euler / Heun). It returns eps, x0 or v according to
  ``prediction_type`` (the model's property, so a call argument), with C channels, or 2C when
  the model also predicts a variance (the extra channels are used by DDPM's ``learned_range``
  and ignored elsewhere).
- ``noise`` is standard normal with the output's shape; the sampler starts from
  ``noise * init_noise_sigma(schedule, num_steps)`` in its own state space (1 for the
  variance-preserving samplers; for Euler / Heun, whose state is ``x_t / sqrt(alpha_bar)`` =
  ``x0 + sigma eps``, it is sigma_max, or sqrt(sigma_max^2 + 1) with leading spacing).
  Euler / Heun divide their state by sqrt(sigma^2 + 1) before calling the model, so the
  model sees the same inputs as under diffusers' ``scale_model_input``: comparing the model's
  inputs (and the final sample) compares the two step for step, whatever the internal state.
- Stochastic samplers (DDPM; DDIM with eta > 0) draw ``torch.randn(x.shape, generator=...,
  dtype=x.dtype)`` once per noise-adding step, in sampling order, on the generator's device; the same
  generator state gives diffusers the same noise.
- The predicted x0 may be clipped to [-r, r] (``clip_sample``) or dynamically thresholded
  (``thresholding``, Imagen: Saharia et al. 2022, sec. 2.3) before the update, as in diffusers;
  thresholding takes precedence.
- The trajectory records, for each sampling step, the model's input x_t (variance-preserving)
  and the predicted x0 after clipping, detached and on the CPU, for movies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from dvcore.diffusion.prediction import check_prediction_type
from dvcore.diffusion.schedules import Schedule
from dvcore.options import ge, gt, lt, opt

Tensor = torch.Tensor
ModelFn = Callable[[Tensor, Tensor], Tensor]


class TrajectoryStep(NamedTuple):
    """One sampling step of a recorded trajectory."""

    x_t: Tensor  # (B, C, H, W) the model's input, variance-preserving convention
    pred_x0: Tensor  # (B, C, H, W) predicted clean sample, after clipping / thresholding


@dataclass(frozen=True)
class SampleResult:
    """What ``Sampler.sample`` returns."""

    x0: Tensor  # (B, C, H, W) the final sample
    trajectory: list[TrajectoryStep] | None  # one entry per sampling step when recorded
    timesteps: Tensor  # (n,) float64 training steps fed to the model, by sampling step


class Sampler:
    """Turns model predictions into ever less noisy samples over a chosen number of steps."""

    name: str = "sampler"

    def __init__(self, options: Any):
        self.options = options

    def timesteps(self, schedule: Schedule, num_steps: int) -> Tensor:
        """(num_steps,) float64 training steps at which the model is called, by sampling step."""
        raise NotImplementedError

    def init_noise_sigma(self, schedule: Schedule, num_steps: int) -> float:
        """Scale of the initial state relative to unit noise."""
        return 1.0

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
        """Run the reverse process from `noise` (B, C, H, W) and return the final sample."""
        raise NotImplementedError

    # -- shared pieces --------------------------------------------------------------------------

    @staticmethod
    def _check(prediction_type: str) -> None:
        check_prediction_type(prediction_type)

    def _call(self, model_fn: ModelFn, x: Tensor, t: float) -> tuple[Tensor, Tensor | None]:
        """Call the model at one timestep; split off predicted-variance channels if present."""
        t_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        out = model_fn(x, torch.full((x.shape[0],), t, dtype=t_dtype, device=x.device))
        c = x.shape[1]
        if out.shape[1] == 2 * c:
            return out[:, :c], out[:, c:]
        if out.shape[1] != c:
            raise ValueError(f"expected the model to return {c} or {2 * c} channels, got {out.shape[1]}")
        return out, None

    def _process_x0(self, x0: Tensor) -> Tensor:
        """Clip or dynamically threshold a predicted x0 as the options say."""
        o = self.options
        if o.thresholding:
            return dynamic_threshold(x0, o.thresholding_ratio, o.thresholding_max)
        if o.clip_sample:
            return x0.clamp(-o.clip_sample_range, o.clip_sample_range)
        return x0

    @staticmethod
    def _randn(x: Tensor, generator: torch.Generator | list[torch.Generator] | None) -> Tensor:
        """Standard normal noise shaped like x, drawn on the generator's device.

        A list holds one generator per sample: sample i's noise then depends on its own
        generator only, so it is the same whatever the batch it is drawn in (``dvcore sample``).
        """
        if isinstance(generator, list | tuple):
            draws = [torch.randn(x.shape[1:], generator=g, device=g.device, dtype=x.dtype) for g in generator]
            return torch.stack(draws).to(x.device)  # (B, ...)
        device = generator.device if generator is not None else x.device
        return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)

    @staticmethod
    def _record(trajectory: list[TrajectoryStep] | None, x_t: Tensor, pred_x0: Tensor) -> None:
        if trajectory is not None:
            trajectory.append(TrajectoryStep(x_t.detach().cpu().clone(), pred_x0.detach().cpu().clone()))


def dynamic_threshold(x0: Tensor, ratio: float, max_value: float | None) -> Tensor:
    """Imagen's dynamic thresholding (Saharia et al. 2022, sec. 2.3).

    s = the `ratio` quantile of |x0| per sample, at least 1 (at most `max_value`);
    x0 is clipped to [-s, s] and divided by s.
    """
    b = x0.shape[0]
    flat = x0.reshape(b, -1)  # (B, N)
    work = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    s = torch.quantile(work.abs(), ratio, dim=1).clamp(min=1)  # (B,)
    if max_value is not None:
        s = s.clamp(max=max_value)
    s = s[:, None]  # (B, 1)
    return (torch.clamp(work, -s, s) / s).to(x0.dtype).reshape(x0.shape)


# ----------------------------------------------------------------------------------------------
# Option fields every sampler has: processing of the predicted x0
# ----------------------------------------------------------------------------------------------


def clip_sample_field(default: bool) -> Any:
    return opt(default, "clip the predicted x0 to [-clip_sample_range, clip_sample_range]")


def clip_sample_range_field() -> Any:
    return opt(1.0, "bound for clip_sample", gt(0))


def thresholding_field() -> Any:
    return opt(False, "dynamic thresholding of the predicted x0 (Imagen); overrides clip_sample")


def thresholding_ratio_field() -> Any:
    return opt(0.995, "quantile of |x0| used as the threshold", gt(0), lt(1))


def thresholding_max_field() -> Any:
    return opt(None, "upper bound of the threshold; unset = none (Imagen)", ge(1))
