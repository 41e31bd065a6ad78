"""Unconditional image generation by diffusion, with any backbone.

Training: an image x0 (rescaled from [0, 1] to [-1, 1]) is noised at a random training step t
and the backbone, called as ``model(x_t, t)`` with C_in = C_out = the image's channels,
regresses the diffusion loss's target (eps, x0 or v). The schedule and the sampler come from
the recipe's ``[schedule]`` and ``[sampler]`` sections (``linear`` and ``ddim`` when unset).

Evaluation, on the eval split, with the eval model (the EMA when there is one):

- a grid of samples from fixed noise (the same noise at every eval, so grids compare across
  steps): ``images["samples"]``;
- the held-out diffusion loss at fixed (seeded) t and noise, overall (``model/loss``) and per
  bucket of training steps (``model/loss_t000-099`` ...), and its curve over t as a figure,
  ``images["loss_per_t"]`` (a wish of docs/lab_notes.md §G11);
- set-level metrics from ``eval.metrics`` (fid, kid, inception_score): generated images against
  the eval images.

``GenerateTask.sample`` is the one way to draw images from a trained model (eval, ``dvcore
sample``, ``dvcore movie``). The parts shared with interpolation by diffusion (components,
training noise, held-out loss, model space) are in ``dvcore.diffusion.task_parts``.

Randomness: training t and noise come from a generator the task owns, seeded by the recipe's
seed and the process rank (data-parallel ranks draw different noise) and saved in checkpoints
(``state_dict``), with the diffusion loss's importance-sampling history; eval uses fresh
generators seeded from the recipe's seed and touches no global RNG. So a resumed run continues
bit-exactly, and an eval in between changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import attrs
import torch
from torch import nn

from dvcore.data.splits import Splits
from dvcore.diffusion.samplers.base import Sampler, TrajectoryStep
from dvcore.diffusion.task_parts import (
    DiffusionParts,
    HeldOutLoss,
    NoiseSource,
    model_device,
    to_model_space,
    unit_noise,
)
from dvcore.errors import RecipeError
from dvcore.metrics import MeanMetric, Metric
from dvcore.options import ge, gt, opt
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.seeding import eval_generator
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.images import image_grid
from dvcore.train.checkpoint import from_json, to_json

Tensor = torch.Tensor


@attrs.frozen
class GenerateOptions:
    """Options of the generate task (schedule and sampler are the recipe's [schedule] and [sampler])."""

    sample_steps: int = opt(50, "sampler steps for eval grids and samples", gt(0))
    num_samples: int | None = opt(
        None, "images sampled for the eval grid (0 = no grid); unset = eval.num_images", ge(0)
    )
    prediction_type: Literal["eps", "x0", "v"] | None = opt(
        None, "what the backbone predicts; must equal the diffusion loss's target; unset = that target"
    )
    metric_samples: int | None = opt(
        None, "images generated for set-level metrics (fid, kid); unset = as many as eval images", gt(0)
    )


@dataclass(frozen=True)
class Samples:
    """What ``GenerateTask.sample`` returns; everything on the CPU, images in [0, 1]."""

    images: Tensor  # (num, C, H, W)
    trajectory: list[TrajectoryStep] | None  # per sampling step: x_t and predicted x0, as images
    timesteps: Tensor  # (n,) training steps fed to the model, by sampling step


# ----------------------------------------------------------------------------------------------
# The task
# ----------------------------------------------------------------------------------------------


class GenerateTask(Task):
    """Unconditional image diffusion: noise an image, learn to undo it; sample grids at eval."""

    def __init__(self, options: GenerateOptions, *, recipe: Recipe, registry: Registry):
        self.options, self.recipe = options, recipe
        data = registry.get("dataset", recipe.data.name)
        self._datasets = Splits(lambda split: data.build(recipe.data.options, split=split, seed=recipe.seed))
        problems: list[str] = []
        sample = self._datasets.first_sample()
        if "image" not in sample:
            problems.append(f"data.name: {recipe.data.name!r} gives no images ('image'); generate needs them")
            raise RecipeError(problems)
        self.image_shape: tuple[int, int, int] = tuple(sample["image"].shape)  # (C, H, W)
        parts = DiffusionParts.build(recipe, registry, options.prediction_type, "generate", problems)
        # Built once (a feature network loads once; reset before each eval keeps a reference file).
        self.metrics: dict[str, Metric] = {}
        for i, section in enumerate(recipe.eval.metrics):
            metric = registry.get("metric", section.name).build(section.options)
            if isinstance(metric, MeanMetric):
                problems.append(
                    f"eval.metrics[{i}]: {section.name!r} compares each output with its own target; "
                    "generated images have none: use a set-level metric (fid, kid, inception_score)"
                )
            self.metrics[section.name] = metric
        if problems:
            raise RecipeError(problems)
        self.diffusion = parts
        self.noise = NoiseSource(recipe.seed)

    # -- the Task contract ----------------------------------------------------------------------

    def channels(self) -> tuple[int, int]:
        c = self.image_shape[0]
        return c, c

    def datasets(self) -> dict[str, Any]:
        return self._datasets

    def training_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        x0 = to_model_space(batch["image"])  # (B, C, H, W) in [-1, 1]
        d = self.diffusion
        out = d.loss(model, x0, d.schedule, generator=self.noise.generator(x0.device))
        return out.loss, {"distance": out.distance.detach().mean()}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, Tensor]]) -> EvalResult:
        d, o = self.diffusion, self.options
        held_out = HeldOutLoss(d, eval_generator(self.recipe.seed, "loss"))
        metrics = self.metrics
        for metric in metrics.values():
            metric.reset()
        num_real = 0
        for batch in batches:
            x0 = to_model_space(batch["image"])  # (B, C, H, W)
            held_out.update(model, x0)
            for metric in metrics.values():
                metric.update(None, batch["image"])
            num_real += len(x0)

        scores = held_out.scores("model")
        images = {"loss_per_t": held_out.figure()}
        num_grid = self.recipe.eval.num_images if o.num_samples is None else o.num_samples
        if num_grid:
            shown = self.sample(model, num_grid, generator=eval_generator(self.recipe.seed, "grid"))
            images["samples"] = image_grid(shown.images)
        if metrics:
            scores.update(self.score_samples(model, metrics, o.metric_samples or num_real))
        return EvalResult(scores, images)

    def score_samples(self, model: nn.Module, metrics: dict[str, Metric], num: int) -> dict[str, float]:
        """Generate ``num`` images in eval-sized batches and score them with set-level metrics."""
        generator = eval_generator(self.recipe.seed, "metrics")
        batch_size = self.recipe.eval.batch_size
        for start in range(0, num, batch_size):
            images = self.sample(model, min(batch_size, num - start), generator=generator).images
            for metric in metrics.values():
                metric.update(images, None)
        return {f"model/{name}": metric.compute() for name, metric in metrics.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"loss": to_json(self.diffusion.loss.state_dict()), "noise": self.noise.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "loss" in state:
            self.diffusion.loss.load_state_dict(from_json(state["loss"]), self.diffusion.schedule)
        if "noise" in state:
            self.noise.load_state_dict(state["noise"])

    # -- sampling -------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self,
        model: nn.Module,
        num: int,
        *,
        generator: torch.Generator | list[torch.Generator],
        sampler: Sampler | None = None,
        num_steps: int | None = None,
        record: bool = False,
    ) -> Samples:
        """``num`` images in [0, 1] from unit noise drawn from ``generator``, on the model's device.

        ``sampler`` and ``num_steps`` default to the recipe's sampler and ``sample_steps``. The
        noise is drawn on the generator's device (a CPU generator gives the same images on any
        device, up to arithmetic); stochastic samplers draw their step noise from it too. A list
        of ``num`` generators gives each image its own (an image then does not depend on the
        batch it is drawn in). With ``record``, the trajectory holds each step's x_t and
        predicted x0 mapped to [0, 1].
        """
        d = self.diffusion
        device = model_device(model)
        noise = unit_noise((num, *self.image_shape), generator)  # (num, C, H, W)
        result = d.sample(
            model,
            noise.to(device),
            sampler=sampler,
            num_steps=num_steps or self.options.sample_steps,
            generator=generator,
            record=record,
        )
        return Samples(result.x0.cpu(), result.trajectory, result.timesteps)

    # -- capabilities (dvcore.tasks.capabilities) -----------------------------------------------

    def movie_frames(
        self, model: nn.Module, *, num: int, sampler: Any, num_steps: int | None, seed: int, scale: int
    ) -> list[Any]:
        """``dvcore movie``: x_t | predicted x0 of ``num`` samples at every sampling step."""
        from dvcore.movie import sampling_movie_frames

        return sampling_movie_frames(
            self, model, num=num, sampler=sampler, num_steps=num_steps, seed=seed, scale=scale
        )

    def loss_per_timestep(
        self, model: nn.Module, *, buckets: int | None, max_samples: int | None, batch_size: int, seed: int
    ) -> HeldOutLoss:
        """``dvcore eval loss-per-t``: the held-out loss on the eval images in buckets of t."""
        from dvcore.evaluation import image_loss_per_timestep

        return image_loss_per_timestep(
            self, model, buckets=buckets, max_samples=max_samples, batch_size=batch_size, seed=seed
        )


def build_generate(options: GenerateOptions, *, recipe: Recipe, registry: Registry) -> GenerateTask:
    """Unconditional image diffusion with any backbone."""
    return GenerateTask(options, recipe=recipe, registry=registry)
