"""The contract of every component kind, as ``typing.Protocol`` classes.

A plugin registers components with ``registrar.add(kind, name, factory, options)``.
The registry structures the recipe section that names the component into ``options``
(a frozen attrs class whose fields are declared with ``dvcore.api.opt``) and calls
``factory(options, **context)``; the context depends on the kind and is given by a
``...Factory`` protocol below. What the factory returns must meet the kind's protocol.

Rules that hold for every kind:

- **Options.** Every field is declared with ``opt(default, doc, *validators)``; the doc is
  what ``dvcore plugins`` prints. A validator is ``check(instance, attribute, value)`` and
  raises ``ValueError`` with a message *without* the field name ("expected > 0, got -1"):
  the recipe loader prefixes the TOML path (``model.width: expected > 0, got -1``). Checks
  spanning several fields go in an optional ``problems(self)`` method yielding
  ``(field, message)`` pairs; it must never raise. Validators are skipped for ``None``.
- **Validation builds on the meta device.** ``dvcore validate`` calls backbone factories
  under ``torch.device("meta")`` and runs ``forward`` on meta tensors, so a factory must
  not read weights or touch data, and must create tensors on the current default device
  (no ``device="cpu"`` literals). Raise ``ValueError`` for options that cannot work together.
- **Determinism.** Anything random takes its randomness from the arguments it is given
  (a ``seed``, a ``torch.Generator``) or from torch's global RNG, which the run seeds;
  the same seed gives the same result.
- **State.** Learnable state lives in ``nn.Module`` parameters and buffers and is saved as
  safetensors; other state (``state_dict()``) must be JSON-able.

The executable version of these contracts is ``dvcore.testing`` (``check_backbone`` ...):
run it in your plugin's tests. The guide with a complete example per kind is
``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from dvcore.diffusion.samplers.base import SampleResult
    from dvcore.recipe import Recipe
    from dvcore.registry import Registry
    from dvcore.tasks.base import EvalResult
    from dvcore.track.base import RunInfo

Tensor = torch.Tensor

__all__ = [
    "Backbone",
    "BackboneFactory",
    "Baseline",
    "BaselineFactory",
    "Dataset",
    "DatasetFactory",
    "DiffusionLoss",
    "Loss",
    "LossFactory",
    "Metric",
    "MetricFactory",
    "RegressionLoss",
    "Sampler",
    "SamplerFactory",
    "Schedule",
    "ScheduleFactory",
    "Task",
    "TaskFactory",
    "Tracker",
    "TrackerFactory",
]


# ----------------------------------------------------------------------------------------------
# backbone
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Backbone(Protocol):
    """A network that maps a batch and its timesteps to an output image (an ``nn.Module``).

    ``forward(x, t)``: ``x`` is float [B, C_in, H, W]; ``t`` is float [B], the timestep of
    each sample in training-step units (0 .. T-1, fractional for some samplers). Regression
    tasks pass ``t = 0`` for every sample, so a backbone must work (and may ignore t)
    then. Returns [B, C_out, H, W] with the input's H, W and dtype (or 2 C_out channels
    when the backbone also predicts a variance, e.g. a ``learn_sigma`` option).

    The task decides C_in and C_out from its data and passes them to the factory; the
    backbone never knows which task it serves. Examples: interpolation of N = 5 RGB frames
    by regression: the four context frames concatenated on channels, 12 -> 3; the same
    by diffusion with the noisy middle frame: 15 -> 3; unconditional generation of RGB
    images: 3 -> 3.

    A backbone whose blocks can recompute activations in backward exposes a
    ``grad_checkpointing`` attribute on those modules (``train.grad_checkpointing``).
    """

    def forward(self, x: Tensor, t: Tensor) -> Tensor: ...

    def __call__(self, x: Tensor, t: Tensor) -> Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


class BackboneFactory(Protocol):
    """``factory(options, *, in_channels, out_channels) -> Backbone``.

    Called under ``torch.device(...)`` (``"meta"`` by ``dvcore validate``): create every
    tensor on the default device. Raise ``ValueError`` when the options cannot build a
    model for these channels.
    """

    def __call__(self, options: Any, *, in_channels: int, out_channels: int) -> Backbone: ...


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Dataset(Protocol):
    """A map-style dataset of samples (the data pipeline wraps it in torchdata.nodes).

    ``dataset[i]`` for ``0 <= i < len(dataset)`` is a dict of float32 tensors in [0, 1]:
    ``"frames"`` [N, C, H, W] for clips (interpolation: N odd, the middle frame is the
    target), ``"image"`` [C, H, W] for single images (generation). Every sample of a
    dataset has the same shape. ``dataset[i]`` is a pure function of (options, split,
    seed, i, epoch), which makes resuming exact.

    Optional: ``set_epoch(epoch)`` (called at each epoch start, for augmentations drawn
    per epoch), ``num_corrupt`` (files skipped as unreadable; reported in summary.json).
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Tensor]: ...


class DatasetFactory(Protocol):
    """``factory(options, *, split, seed) -> Dataset``.

    ``split`` is ``"train"`` or ``"eval"``; the two must not share samples. ``seed`` is the
    recipe's seed (for generated data, or a random split).
    """

    def __call__(self, options: Any, *, split: str, seed: int) -> Dataset: ...


# ----------------------------------------------------------------------------------------------
# metric
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Metric(Protocol):
    """Accumulates a score over batches; ``compute()`` gives the score so far.

    ``update(pred, target)``: two float batches [B, C, H, W] in [0, 1]. A per-sample metric
    (PSNR, SSIM; subclass ``dvcore.api.MeanMetric`` and write ``per_sample``) returns the
    value of each sample [B]; a set-level metric (FID, KID) returns None, and is called
    with ``pred`` or ``target`` None when only one side is at hand (then set
    ``uses_reference``). ``reset()`` forgets everything seen. ``compute()`` returns a float
    (nan before any update).

    ``name`` is the key in scores: a task reports ``"<predictor>/<name>"`` (``model/psnr``,
    ``blend/psnr``) in summary.json's ``eval`` and in the tracker; ``higher_is_better``
    tells tables which way is better.
    """

    name: str
    higher_is_better: bool

    def reset(self) -> None: ...

    def update(self, pred: Tensor, target: Tensor) -> Tensor | None: ...

    def compute(self) -> float: ...


class MetricFactory(Protocol):
    """``factory(options) -> Metric``; recipes name metrics in ``[eval] metrics = ["psnr", ...]``."""

    def __call__(self, options: Any) -> Metric: ...


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


# ----------------------------------------------------------------------------------------------
# tracker
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Tracker(Protocol):
    """Records a run: hyper-parameters, scalars, images, files.

    Called on rank 0 only. ``log_scalars(values, step, context)`` gets ``{name: float}``
    (eval scores named ``"<predictor>/<metric>"``); ``log_images`` gets ``{name: (3, H, W)
    float in [0, 1]}``; ``close()`` is called once at the end, also after a failure. Set
    ``run_id`` to the tracker's own id of the run: it is stored in the run directory and
    handed back as ``RunInfo.resume_id`` when the run resumes. Subclass
    ``dvcore.api.TrackerBase`` (every method a no-op) and override what you record.
    """

    run_id: str | None

    def log_hparams(self, hparams: dict[str, Any]) -> None: ...

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None: ...

    def log_images(self, images: dict[str, Tensor], step: int, context: str = "eval") -> None: ...

    def log_file(self, path: Any, name: str | None = None) -> None: ...

    def close(self) -> None: ...


class TrackerFactory(Protocol):
    """``factory(options, *, run: RunInfo) -> Tracker`` (experiment, run name, run directory, resume id)."""

    def __call__(self, options: Any, *, run: RunInfo) -> Tracker: ...


# ----------------------------------------------------------------------------------------------
# task
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Task(Protocol):
    """What a batch teaches the model, and how the model is scored.

    ``channels()`` -> (C_in, C_out) of the backbone; ``datasets()`` -> ``{"train": ..., "eval":
    ...}`` map-style datasets; ``training_loss(model, batch)`` -> (scalar loss, {name: float}
    to log), with ``batch`` the collated samples on the model's device; ``evaluate(model,
    batches)`` -> ``EvalResult(scores, images)`` with scores named ``"<predictor>/<metric>"``;
    ``state_dict()`` / ``load_state_dict(state)`` keep JSON-able training state (e.g. a
    noise generator) across resume; ``summary()`` adds facts to summary.json.

    Optional capabilities (sample, movie frames, evaluate a run, loss per timestep) are
    declared in ``dvcore.tasks.capabilities``; the CLI asks a task for them, never for a
    task by name. Subclass ``dvcore.api.TaskBase`` for the defaults.
    """

    def channels(self) -> tuple[int, int]: ...

    def datasets(self) -> dict[str, Any]: ...

    def training_loss(self, model: Any, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Any]]: ...

    def evaluate(self, model: Any, batches: Iterable[dict[str, Tensor]]) -> EvalResult: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def summary(self) -> dict[str, Any]: ...


class TaskFactory(Protocol):
    """``factory(options, *, recipe, registry) -> Task``.

    The task builds what it needs from the recipe through the registry (its datasets
    from ``recipe.data``, its loss from ``recipe.loss``, metrics from ``recipe.eval``) and
    raises ``RecipeError`` with one line per problem, each starting with the TOML path.
    """

    def __call__(self, options: Any, *, recipe: Recipe, registry: Registry) -> Task: ...


# ----------------------------------------------------------------------------------------------
# baseline
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Baseline(Protocol):
    """A non-learned predictor scored beside the model: context frames -> the middle frame.

    ``baseline(context)``: ``context`` float [B, N-1, C, H, W] in [0, 1], the clip without
    its middle frame, in time order; returns [B, C, H, W] in [0, 1]. Deterministic; no
    training, no parameters. Scores are reported as ``"<baseline name>/<metric>"``.
    """

    def __call__(self, context: Tensor) -> Tensor: ...


class BaselineFactory(Protocol):
    """``factory(options) -> Baseline``."""

    def __call__(self, options: Any) -> Baseline: ...
