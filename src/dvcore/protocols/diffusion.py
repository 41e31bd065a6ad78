"""Contracts of the diffusion parts: losses (regression or diffusion), noise schedules, samplers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from dvcore.diffusion.samplers.base import SampleResult

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Loss(Protocol):
    """A training loss; ``kind`` says which call the task makes (``"regression"`` or ``"diffusion"``).

    See ``RegressionLoss`` and ``DiffusionLoss``. A task checks ``kind`` and refuses a loss of
    the other kind with one recipe-error line.
    """

    kind: str


@runtime_checkable
class RegressionLoss(Protocol):
    """``loss(pred, target) -> Tensor``: a differentiable scalar from two [B, C, H, W] batches.

    ``kind = "regression"``. Used by regression tasks (interpolation by regression).
    """

    kind: str

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor: ...


@runtime_checkable
class DiffusionLoss(Protocol):
    """``loss(model_fn, x0, schedule, generator=None, *, t=None, noise=None, ...) -> LossOutput``.

    ``kind = "diffusion"``. Draws t and noise (unless given), noises x0 with the schedule,
    calls ``model_fn(x_t, t)`` (t float [B]) and returns ``LossOutput(loss, per_sample, t,
    distance)``. ``options.target`` is what the model predicts (eps, x0 or v);
    ``state_dict()`` / ``load_state_dict(state, schedule)`` keep its training state (e.g.
    importance-sampling history). The built-in ``diffusion`` loss is the reference.
    """

    kind: str

    def __call__(
        self, model_fn: Callable[..., Tensor], x0: Tensor, schedule: Any, *args: Any, **kwargs: Any
    ) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any], schedule: Any) -> None: ...


class LossFactory(Protocol):
    """``factory(options) -> Loss``."""

    def __call__(self, options: Any) -> Loss: ...


# ----------------------------------------------------------------------------------------------
# schedule
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Schedule(Protocol):
    """The noise level of each of T training steps; float64 tensors indexed by training step.

    ``x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps`` (DDPM eq. 4), t = 0 the least
    noisy step. Write only the betas: ``dvcore.api.BetaSchedule(betas, name)`` derives every
    table the samplers and losses use (alphas_cumprod, snr, sigmas, add_noise, ...).
    Betas must lie in (0, 1]; alpha_bar must decrease with t.
    """

    name: str
    betas: Tensor
    alphas_cumprod: Tensor

    @property
    def num_train_timesteps(self) -> int: ...

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor: ...


class ScheduleFactory(Protocol):
    """``factory(options) -> Schedule``; T is an option (``num_train_timesteps``) by convention."""

    def __call__(self, options: Any) -> Schedule: ...


# ----------------------------------------------------------------------------------------------
# sampler
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Sampler(Protocol):
    """Turns model predictions into ever less noisy samples over a chosen number of steps.

    ``sample(model_fn, noise, schedule, *, num_steps, prediction_type="eps", generator=None,
    record=False, callback=None) -> SampleResult``: starts from ``noise`` [B, C, H, W] (standard normal),
    calls ``model_fn(x, t)`` with t float [B] in training-step units, which returns eps, x0
    or v (``prediction_type``), and returns ``SampleResult(x0, trajectory, timesteps)``; with
    ``record`` the trajectory holds one ``TrajectoryStep(x_t, pred_x0)`` per step (detached,
    on the CPU) for movies. Random draws come from ``generator`` only, so a seed gives the
    same samples. ``timesteps(schedule, num_steps)`` is the (num_steps,) grid of training
    steps visited. Subclass ``dvcore.api.SamplerBase``: it checks the inputs, wraps the
    model into a ``Denoiser`` (eps / x0 / v -> x0 and eps, clipping / thresholding, the
    trajectory and ``callback(i, step)``), so a new sampler writes only ``grid(schedule,
    num_steps) -> Grid`` and ``loop(denoise, x, grid, generator)``; its options declare the
    x0 processing with ``clip_sample_field(...)`` and the other ``*_field`` helpers.
    """

    def timesteps(self, schedule: Any, num_steps: int) -> Tensor: ...

    def sample(
        self,
        model_fn: Callable[[Tensor, Tensor], Tensor],
        noise: Tensor,
        schedule: Any,
        *,
        num_steps: int,
        prediction_type: str = "eps",
        generator: torch.Generator | None = None,
        record: bool = False,
        callback: Callable[[int, Any], None] | None = None,
    ) -> SampleResult: ...


class SamplerFactory(Protocol):
    """``factory(options) -> Sampler``; a sampler is bound to neither a schedule nor a model."""

    def __call__(self, options: Any) -> Sampler: ...
