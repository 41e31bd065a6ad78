"""The sampler contract, and everything samplers share (k-diffusion's shape: short loops over one denoiser).

Registry kind ``sampler``: ``factory(options) -> Sampler``. A sampler is not bound to a
schedule or a model; both are passed to ``sample``:

    result = sampler.sample(model_fn, noise, schedule, num_steps=50, prediction_type="v",
                            generator=g, record=True, callback=None)
    result.x0                      # (B, C, H, W) the final sample
    result.trajectory              # [(x_t, pred_x0)] per sampling step, on the CPU (record=True)
    result.timesteps               # (n,) training steps fed to the model, by sampling step

``Sampler.sample`` does the shared work once: it checks the inputs, builds the ``Grid`` (the
training steps and the alpha_bar of each sampling step, plus the end point), wraps the model
into a ``Denoiser`` (model output -> x0 and eps, whatever ``prediction_type``, with the x0
clipped or thresholded as the options say, and each step reported to ``record`` and
``callback``) and scales the initial noise. A sampler writes ``grid`` and ``loop``: its
update rule, over the grid indices. Options classes declare the x0 processing with the
``*_field`` helpers at the end of this module.

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
- Stochastic samplers (DDPM; DDIM with eta > 0) draw ``noise_like(x, generator)`` once per
  noise-adding step, in sampling order, on the generator's device; the same generator state
  gives diffusers the same noise.
- The predicted x0 may be clipped to [-r, r] (``clip_sample``) or dynamically thresholded
  (``thresholding``, Imagen: Saharia et al. 2022, sec. 2.3) before the update, as in diffusers;
  thresholding takes precedence.
- The trajectory records, for each sampling step, the model's input x_t (variance-preserving)
  and the predicted x0 after clipping, detached and on the CPU, for movies. ``callback(i, step)``
  gets the same ``TrajectoryStep`` on the model's device, as each step is taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import attrs
import torch

from dvcore.diffusion.prediction import check_prediction_type, eps_from, x0_from
from dvcore.diffusion.schedules import Schedule
from dvcore.diffusion.spacing import spaced_timesteps
from dvcore.options import ge, gt, lt, opt

Tensor = torch.Tensor
ModelFn = Callable[[Tensor, Tensor], Tensor]
Generator = torch.Generator | list[torch.Generator] | None


class TrajectoryStep(NamedTuple):
    """One sampling step of a recorded trajectory."""

    x_t: Tensor  # (B, C, H, W) the model's input, variance-preserving convention
    pred_x0: Tensor  # (B, C, H, W) predicted clean sample, after clipping / thresholding


Callback = Callable[[int, TrajectoryStep], None]


@dataclass(frozen=True)
class SampleResult:
    """What ``Sampler.sample`` returns."""

    x0: Tensor  # (B, C, H, W) the final sample
    trajectory: list[TrajectoryStep] | None  # one entry per sampling step when recorded
    timesteps: Tensor  # (n,) float64 training steps fed to the model, by sampling step


@dataclass(frozen=True)
class Grid:
    """The noise levels a sampler visits, by sampling step i = 0 .. n-1, and where it ends (i = n)."""

    timesteps: Tensor  # (n,) float64 training steps fed to the model
    alphas_cumprod: list[float]  # (n+1,) alpha_bar at each sampling step, then at the end point

    def __len__(self) -> int:
        return len(self.timesteps)

    def alpha(self, i: int) -> float:
        """sqrt(alpha_bar) at sampling step i (the signal coefficient)."""
        return math.sqrt(self.alphas_cumprod[i])

    def sigma(self, i: int) -> float:
        """sqrt(1 - alpha_bar) at sampling step i (the noise coefficient)."""
        return math.sqrt(1.0 - self.alphas_cumprod[i])


def spaced_grid(schedule: Schedule, num_steps: int, spacing: str, offset: int, *, final: float) -> Grid:
    """``num_steps`` training steps spaced by ``spacing`` (``dvcore.diffusion.spacing``), noisiest first;
    alpha_bar at each, and ``final`` (alpha_bar where the last step ends)."""
    ts = spaced_timesteps(schedule.num_train_timesteps, num_steps, spacing, offset)
    ab = schedule.alphas_cumprod.tolist()  # alpha_bar by training step
    return Grid(torch.from_numpy(ts), [*(ab[int(t)] for t in ts), final])


class Prediction(NamedTuple):
    """What the denoiser makes of one model call."""

    x0: Tensor  # (B, C, H, W) predicted clean sample, clipped / thresholded
    eps: Tensor  # (B, C, H, W) predicted noise, from the model's output as it is
    var: Tensor | None  # (B, C, H, W) the model's extra variance channels, when it returns 2C


class Denoiser:
    """The model at the grid's noise levels: ``denoise(x_t, i)`` -> ``Prediction`` at sampling step i.

    Converts eps / x0 / v outputs (``prediction_type``), splits off predicted-variance channels,
    processes x0 (clip / threshold) and reports the step (``report=False`` for a corrector call,
    such as Heun's second evaluation, that is not a step of its own).
    """

    def __init__(
        self,
        model_fn: ModelFn,
        grid: Grid,
        prediction_type: str,
        process_x0: Callable[[Tensor], Tensor],
        report: Callable[[int, TrajectoryStep], None],
    ):
        self.model_fn, self.grid, self.prediction_type = model_fn, grid, prediction_type
        self.process_x0, self.report = process_x0, report

    def __call__(self, x_t: Tensor, i: int, *, report: bool = True) -> Prediction:
        g = self.grid
        out, var = self._call(x_t, float(g.timesteps[i]))  # (B, C, H, W), optional (B, C, H, W)
        a, s = g.alpha(i), g.sigma(i)
        x0 = self.process_x0(x0_from(out, x_t, a, s, self.prediction_type))
        if report:
            self.report(i, TrajectoryStep(x_t.detach(), x0.detach()))
        return Prediction(x0, eps_from(out, x_t, a, s, self.prediction_type), var)

    def _call(self, x: Tensor, t: float) -> tuple[Tensor, Tensor | None]:
        """Call the model at one timestep; split off predicted-variance channels if present."""
        t_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        out = self.model_fn(x, torch.full((x.shape[0],), t, dtype=t_dtype, device=x.device))
        c = x.shape[1]
        if out.shape[1] == 2 * c:
            return out[:, :c], out[:, c:]
        if out.shape[1] != c:
            raise ValueError(f"expected the model to return {c} or {2 * c} channels, got {out.shape[1]}")
        return out, None


class Sampler:
    """Turns model predictions into ever less noisy samples over a chosen number of steps.

    Subclasses write ``grid`` (which noise levels) and ``loop`` (the update rule); override
    ``initial_scale`` when the state is not variance-preserving.
    """

    name: str = "sampler"

    def __init__(self, options: Any):
        self.options = options

    # -- what a sampler writes ------------------------------------------------------------------

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        """The training steps and alpha_bar of each sampling step, and alpha_bar where sampling ends."""
        raise NotImplementedError

    def loop(self, denoise: Denoiser, x: Tensor, grid: Grid, generator: Generator) -> Tensor:
        """The update rule: from the scaled initial state ``x`` over ``grid`` to the final sample."""
        raise NotImplementedError

    def initial_scale(self, grid: Grid) -> float:
        """Scale of the initial state relative to unit noise (1 for a variance-preserving state)."""
        return 1.0

    # -- shared ---------------------------------------------------------------------------------

    def timesteps(self, schedule: Schedule, num_steps: int) -> Tensor:
        """(num_steps,) float64 training steps at which the model is called, by sampling step."""
        return self.grid(schedule, num_steps).timesteps

    def init_noise_sigma(self, schedule: Schedule, num_steps: int) -> float:
        """Scale of the initial state relative to unit noise."""
        return self.initial_scale(self.grid(schedule, num_steps))

    def sample(
        self,
        model_fn: ModelFn,
        noise: Tensor,
        schedule: Schedule,
        *,
        num_steps: int,
        prediction_type: str = "eps",
        generator: Generator = None,
        record: bool = False,
        callback: Callback | None = None,
    ) -> SampleResult:
        """Run the reverse process from `noise` (B, C, H, W) and return the final sample."""
        check_prediction_type(prediction_type)
        if not (isinstance(noise, Tensor) and noise.is_floating_point() and noise.dim() >= 2):
            raise ValueError(f"expected noise a float tensor of shape (B, C, ...), got {_describe(noise)}")
        grid = self.grid(schedule, num_steps)
        trajectory: list[TrajectoryStep] | None = [] if record else None

        def report(i: int, step: TrajectoryStep) -> None:
            if trajectory is not None:
                trajectory.append(TrajectoryStep(step.x_t.cpu().clone(), step.pred_x0.cpu().clone()))
            if callback is not None:
                callback(i, step)

        denoise = Denoiser(model_fn, grid, prediction_type, self.process_x0, report)
        x = self.loop(denoise, noise * self.initial_scale(grid), grid, generator)
        return SampleResult(x0=x, trajectory=trajectory, timesteps=grid.timesteps)

    def process_x0(self, x0: Tensor) -> Tensor:
        """Clip or dynamically threshold a predicted x0 as the options say."""
        o = self.options
        if o.thresholding:
            return dynamic_threshold(x0, o.thresholding_ratio, o.thresholding_max)
        if o.clip_sample:
            return x0.clamp(-o.clip_sample_range, o.clip_sample_range)
        return x0

    @staticmethod
    def noise_like(x: Tensor, generator: Generator) -> Tensor:
        """Standard normal noise shaped like x, drawn on the generator's device.

        A list holds one generator per sample: sample i's noise then depends on its own
        generator only, so it is the same whatever the batch it is drawn in (``dvcore sample``).
        """
        if isinstance(generator, list | tuple):
            draws = [torch.randn(x.shape[1:], generator=g, device=g.device, dtype=x.dtype) for g in generator]
            return torch.stack(draws).to(x.device)  # (B, ...)
        device = generator.device if generator is not None else x.device
        return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"{value.dtype} of shape {tuple(value.shape)}"
    return type(value).__name__


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
# Options every sampler has: where the steps go, and how the predicted x0 is processed
# ----------------------------------------------------------------------------------------------


def spacing_field(default: str) -> Any:
    return opt(default, "how sampling steps are placed among the training steps (Lin et al. 2023, table 2)")


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


@attrs.frozen
class SamplerOptions:
    """The options every sampler shares; a sampler's options class subclasses it and adds its own.

    A subclass changes a default by declaring the field again with the helper above, e.g.
    ``clip_sample: bool = clip_sample_field(True)``.
    """

    timestep_spacing: Literal["linspace", "leading", "trailing"] = spacing_field("linspace")
    steps_offset: int = opt(0, "added to every timestep with leading spacing", ge(0))
    clip_sample: bool = clip_sample_field(False)
    clip_sample_range: float = clip_sample_range_field()
    thresholding: bool = thresholding_field()
    thresholding_ratio: float = thresholding_ratio_field()
    thresholding_max: float | None = thresholding_max_field()
