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
  ``images["loss_per_t"]`` (the notes' "look at loss per time step");
- set-level metrics from ``eval.metrics`` (fid, kid, inception_score): generated images against
  the eval images.

``GenerateTask.sample`` is the one way to draw images from a trained model (eval, ``dvcore
sample``, ``dvcore movie``). The helpers at the bottom are shared with interpolation by
diffusion (``dvcore.tasks.interpolate``).

Randomness: training t and noise come from a generator the task owns, seeded by the recipe's
seed and the process rank (data-parallel ranks draw different noise) and saved in checkpoints
(``state_dict``), with the diffusion loss's importance-sampling history; eval uses fresh
generators seeded from the recipe's seed and touches no global RNG. So a resumed run continues
bit-exactly, and an eval in between changes nothing.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import attrs
import torch
from torch import nn

from dvcore.diffusion.losses import DiffusionLoss
from dvcore.diffusion.samplers.base import Sampler, TrajectoryStep
from dvcore.diffusion.schedules import Schedule
from dvcore.metrics import MeanMetric, Metric
from dvcore.options import ge, gt, opt
from dvcore.recipe import Recipe, RecipeError, SamplerSection, ScheduleSection
from dvcore.registry import Registry
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.images import grid

Tensor = torch.Tensor

DEFAULT_SCHEDULE = "linear"
DEFAULT_SAMPLER = "ddim"


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
        self._datasets = {
            split: data.build(recipe.data.options, split=split, seed=recipe.seed)
            for split in ("train", "eval")
        }
        problems: list[str] = []
        sample = self._datasets["train"][0]
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
        result = (sampler or d.sampler).sample(
            float_output(model),
            noise.to(device),
            d.schedule,
            num_steps=num_steps or self.options.sample_steps,
            prediction_type=d.prediction_type,
            generator=generator,
            record=record,
        )
        trajectory = None
        if result.trajectory is not None:
            trajectory = [TrajectoryStep(to_image(s.x_t), to_image(s.pred_x0)) for s in result.trajectory]
        return Samples(to_image(result.x0).cpu(), trajectory, result.timesteps)


def build_generate(options: GenerateOptions, *, recipe: Recipe, registry: Registry) -> GenerateTask:
    """Unconditional image diffusion with any backbone."""
    return GenerateTask(options, recipe=recipe, registry=registry)


# ----------------------------------------------------------------------------------------------
# Shared by the diffusion tasks: the components, the noise, the held-out loss
# ----------------------------------------------------------------------------------------------


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
                f"task.prediction_type: expected the loss's target {target!r} (loss.target), got {prediction_type!r}"
            )
        if target == "eps" and float(schedule.alphas_cumprod[-1]) == 0.0:
            problems.append(
                "loss.target: expected 'v' or 'x0' with a zero-terminal-SNR schedule "
                "(at alpha_bar = 0 an eps prediction says nothing about x0), got 'eps'"
            )
        return cls(loss, schedule, sampler, target)


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
            self._generator = torch.Generator(device).manual_seed(derive_seed(self.seed, "train", rank()))
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

    def __init__(self, parts: DiffusionParts, generator: torch.Generator):
        self.parts, self.generator = parts, generator
        self.per_t = parts.loss.loss_per_timestep(parts.schedule)
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


def loss_curve_image(centres: Tensor, means: Tensor, title: str) -> Tensor:
    """Loss per bucket of training steps, drawn with matplotlib (Agg, no display): (3, H, W) in [0, 1]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.2), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    keep = torch.isfinite(means)
    ax.plot(centres[keep].numpy(), means[keep].numpy(), marker="o")
    if bool(keep.any()) and bool((means[keep] > 0).all()):
        ax.set_yscale("log")
    ax.set_xlabel("training step t")
    ax.set_ylabel("mean loss")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    canvas.draw()
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)
    h, w = canvas.get_width_height()[::-1]
    return rgba.reshape(h, w, 4)[..., :3].permute(2, 0, 1).float() / 255  # (3, H, W)


# ----------------------------------------------------------------------------------------------
# Small helpers
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


def image_grid(images: Tensor) -> Tensor:
    """(K, C, H, W) in [0, 1] -> a near-square (3, H', W') grid, grey images as RGB."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return grid(images, nrow=math.ceil(math.sqrt(images.shape[0])))


def unit_noise(shape: tuple[int, ...], generator: torch.Generator | list[torch.Generator]) -> Tensor:
    """Standard normal noise on the generator's device; a list of generators draws one sample each."""
    if isinstance(generator, list | tuple):
        if len(generator) != shape[0]:
            raise ValueError(f"expected {shape[0]} generators, one per sample, got {len(generator)}")
        return torch.stack([torch.randn(shape[1:], generator=g, device=g.device) for g in generator])
    return torch.randn(shape, generator=generator, device=generator.device)


def rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def derive_seed(seed: int, *parts: Any) -> int:
    """A 63-bit seed from the recipe's seed and a purpose, so streams never overlap."""
    text = "/".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") & (2**63 - 1)


def eval_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator for one eval purpose, the same at every eval."""
    return torch.Generator().manual_seed(derive_seed(seed, "eval", purpose))


def to_json(value: Any) -> Any:
    """Tensors (any nesting of dicts / lists) -> JSON-able {"__tensor__": dtype, shape, data}."""
    if isinstance(value, Tensor):
        return {"__tensor__": str(value.dtype).removeprefix("torch."), "shape": list(value.shape),
                "data": value.detach().cpu().flatten().tolist()}  # fmt: skip
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """The inverse of ``to_json``; float64 values round-trip exactly (JSON keeps repr)."""
    if isinstance(value, dict) and "__tensor__" in value:
        dtype = getattr(torch, value["__tensor__"])
        return torch.tensor(value["data"], dtype=dtype).reshape(value["shape"])
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value
