"""The parts every diffusion task shares: its components, its training noise, its held-out loss.

- ``DiffusionParts``: the loss, schedule and sampler a recipe names (``linear`` / ``ddim`` when
  unset) and what the backbone predicts, checked against each other.
- ``NoiseSource``: the task's own generator for training t and noise, seeded per process rank and
  saved in checkpoints, so a resumed run continues bit-exactly.
- ``HeldOutLoss``: the diffusion loss on held-out data at seeded t and noise, overall and per
  bucket of training steps (``bucket_ranges`` names the buckets).
- Model space: images are in [0, 1]; the diffusion runs in [-1, 1] (``to_model_space`` /
  ``to_image``); ``float_output`` keeps a model's output float32 under autocast.

Used by ``dvcore.tasks.generate`` and ``dvcore.tasks.interpolate`` (diffusion mode), and by
``dvcore.evaluation`` for the loss per timestep of a trained run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import torch
from torch import nn

from dvcore import seeding
from dvcore.diffusion.loss_per_timestep import LossPerTimestep
from dvcore.diffusion.losses import DiffusionLoss
from dvcore.diffusion.samplers.base import Sampler, SampleResult, TrajectoryStep
from dvcore.diffusion.schedules import Schedule
from dvcore.recipe import Recipe, SamplerSection, ScheduleSection
from dvcore.registry import Registry
from dvcore.track.images import loss_curve_image
from dvcore.train.distributed import current_rank

Tensor = torch.Tensor

DEFAULT_SCHEDULE = "linear"
DEFAULT_SAMPLER = "ddim"


@attrs.define
class DiffusionParts:
    """The loss, schedule and sampler of a diffusion task, and what its backbone predicts."""

    loss: DiffusionLoss
    schedule: Schedule
    sampler: Sampler
    prediction_type: str

    @classmethod
    def build(
        cls,
        recipe: Recipe,
        registry: Registry,
        prediction_type: str | None,
        task: str,
        problems: list[str],
    ) -> DiffusionParts:
        """Build from the recipe (``linear`` / ``ddim`` when unset); append one line per problem."""
        loss = registry.get("loss", recipe.loss.name).build(recipe.loss.options)
        schedule_section = recipe.schedule or ScheduleSection(DEFAULT_SCHEDULE)
        sampler_section = recipe.sampler or SamplerSection(DEFAULT_SAMPLER)
        schedule = registry.get("schedule", schedule_section.name).build(schedule_section.options)
        sampler = registry.get("sampler", sampler_section.name).build(sampler_section.options)
        if not isinstance(loss, DiffusionLoss):
            problems.append(
                f"loss.name: {task} by diffusion needs the 'diffusion' loss, got {recipe.loss.name!r}"
            )
            return cls(loss, schedule, sampler, prediction_type or "eps")
        target = loss.options.target
        if prediction_type is not None and prediction_type != target:
            problems.append(
                f"task.prediction_type: expected the loss's target {target!r} (loss.target), got "
                f"{prediction_type!r}"
            )
        if target == "eps" and float(schedule.alphas_cumprod[-1]) == 0.0:
            problems.append(
                "loss.target: expected 'v' or 'x0' with a zero-terminal-SNR schedule "
                "(at alpha_bar = 0 an eps prediction says nothing about x0), got 'eps'"
            )
        return cls(loss, schedule, sampler, target)

    def sample(
        self,
        model_fn: Callable[..., Tensor],
        noise: Tensor,
        *,
        sampler: Sampler | None,
        num_steps: int,
        generator: Any,
        record: bool,
    ) -> SampleResult:
        """Run ``sampler`` (None = the recipe's) from ``noise``; x0 and the trajectory as images in [0, 1]."""
        result = (sampler or self.sampler).sample(
            float_output(model_fn),
            noise,
            self.schedule,
            num_steps=num_steps,
            prediction_type=self.prediction_type,
            generator=generator,
            record=record,
        )
        trajectory = None
        if result.trajectory is not None:
            trajectory = [TrajectoryStep(to_image(s.x_t), to_image(s.pred_x0)) for s in result.trajectory]
        return SampleResult(to_image(result.x0), trajectory, result.timesteps)


class NoiseSource:
    """The task's own generator for training t and noise; its state goes into checkpoints.

    Seeded by (seed, process rank), created on the device of the first batch, so noise is drawn
    where it is used. A checkpoint written on another device type restarts the stream from its
    seed (with a warning): the run continues, no longer bit-exactly.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._pending: dict[str, Any] | None = None

    def generator(self, device: torch.device) -> torch.Generator:
        device = torch.device(device)
        if self._generator is None or self._generator.device.type != device.type:
            self._generator = seeding.generator(self.seed, "train", current_rank(), device=device)
            if self._pending is not None:
                state, self._pending = self._pending, None
                if state["device"] == device.type:
                    self._generator.set_state(torch.tensor(state["state"], dtype=torch.uint8))
                else:
                    print(
                        f"dvcore: warning: training noise state was saved on {state['device']}, "
                        f"running on {device.type}: the noise stream restarts from the seed",
                        file=sys.stderr,
                    )
        return self._generator

    def state_dict(self) -> dict[str, Any]:
        if self._generator is None:
            return self._pending or {}
        return {"device": self._generator.device.type, "state": self._generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self._pending, self._generator = dict(state), None


class HeldOutLoss:
    """The diffusion loss on held-out data at seeded t and noise: overall and per bucket of t."""

    def __init__(self, parts: DiffusionParts, generator: torch.Generator, buckets: int | None = None):
        """``buckets`` of t (at most T); None = the loss's ``loss_buckets``."""
        self.parts, self.generator = parts, generator
        if buckets is None:
            self.per_t = parts.loss.loss_per_timestep(parts.schedule)
        else:
            T = parts.schedule.num_train_timesteps
            self.per_t = LossPerTimestep(T, min(buckets, T))
        self.total, self.count = 0.0, 0

    def update(self, model_fn: Callable[..., Tensor], x0: Tensor, **model_kwargs: Any) -> None:
        """Add a batch x0 (B, C, H, W) in model space; ``model_fn(x_t, t, **model_kwargs)``."""
        p, g = self.parts, self.generator
        t = torch.randint(0, p.schedule.num_train_timesteps, (x0.shape[0],), generator=g)  # (B,)
        noise = torch.randn(x0.shape, generator=g, dtype=x0.dtype)  # (B, C, H, W)
        out = p.loss(
            float_output(model_fn),
            x0,
            p.schedule,
            t=t.to(x0.device),
            noise=noise.to(x0.device),
            update_history=False,
            **model_kwargs,
        )
        self.per_t.update(out.t, out.per_sample)
        self.total += float(out.per_sample.double().sum())
        self.count += x0.shape[0]

    def scores(self, predictor: str) -> dict[str, float]:
        """``{predictor}/loss`` and ``{predictor}/loss_t{lo}-{hi}`` for each bucket of training steps."""
        _, means, _ = self.per_t.compute()
        scores = {f"{predictor}/loss": self.total / max(self.count, 1)}
        for (lo, hi), mean in zip(bucket_ranges(self.per_t), means.tolist(), strict=True):
            scores[f"{predictor}/loss_t{lo}-{hi}"] = mean
        return scores

    def figure(self) -> Tensor:
        """The held-out loss over t as a (3, H, W) image in [0, 1]."""
        centres, means, _ = self.per_t.compute()
        name = self.parts.loss.options.target
        return loss_curve_image(centres, means, f"held-out loss ({name} target)")


def bucket_ranges(per_t: Any) -> Iterator[tuple[str, str]]:
    """(first, last) training step of each bucket, zero-padded to the width of T - 1."""
    T, K = per_t.num_train_timesteps, per_t.num_buckets
    width = len(str(T - 1))
    for k in range(K):
        lo, hi = -(-k * T // K), -(-(k + 1) * T // K) - 1  # bucket of step s is s * K // T
        yield f"{lo:0{width}d}", f"{hi:0{width}d}"


# ----------------------------------------------------------------------------------------------
# Model space
# ----------------------------------------------------------------------------------------------


def to_model_space(images: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1], where the diffusion runs."""
    return images * 2 - 1


def to_image(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped, float32."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def float_output(model_fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The model with its output in float32 (it may run under bf16/fp16 autocast)."""

    def call(x: Tensor, t: Tensor, **kwargs: Any) -> Tensor:
        return model_fn(x, t, **kwargs).float()

    return call


def model_device(model: nn.Module) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def unit_noise(shape: tuple[int, ...], generator: torch.Generator | list[torch.Generator]) -> Tensor:
    """Standard normal noise on the generator's device; a list of generators draws one sample each."""
    if isinstance(generator, list | tuple):
        if len(generator) != shape[0]:
            raise ValueError(f"expected {shape[0]} generators, one per sample, got {len(generator)}")
        return torch.stack([torch.randn(shape[1:], generator=g, device=g.device) for g in generator])
    return torch.randn(shape, generator=generator, device=generator.device)
