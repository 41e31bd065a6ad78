"""Frame interpolation: N frames in, the middle frame withheld and predicted.

Regression mode (the seed's setting): the N-1 context frames, channel-concatenated,
go into the backbone with t = 0 and the middle frame comes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import attrs
import torch
from torch import nn

from dvcore.options import opt
from dvcore.recipe import Recipe, RecipeError
from dvcore.registry import Registry
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.images import clip_grid


@attrs.frozen
class InterpolateOptions:
    """Options of the interpolate task."""

    mode: Literal["regression"] = opt("regression", "regression: context frames in, middle frame out")


def split_clip(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, C, H, W) -> context (B, N-1, C, H, W) without the middle frame, and the middle (B, C, H, W)."""
    mid = frames.shape[1] // 2
    context = torch.cat([frames[:, :mid], frames[:, mid + 1 :]], dim=1)  # (B, N-1, C, H, W)
    return context, frames[:, mid]


def copy_baseline(context: torch.Tensor) -> torch.Tensor:
    """The nearest context frame before the middle one."""
    return context[:, context.shape[1] // 2 - 1]  # (B, C, H, W)


def blend_baseline(context: torch.Tensor) -> torch.Tensor:
    """The mean of the two frames next to the middle one."""
    k = context.shape[1] // 2
    return 0.5 * (context[:, k - 1] + context[:, k])  # (B, C, H, W)


BASELINES = {"copy": copy_baseline, "blend": blend_baseline}


class InterpolateTask(Task):
    def __init__(self, options: InterpolateOptions, *, recipe: Recipe, registry: Registry):
        self.options = options
        self.recipe = recipe
        data = registry.get("dataset", recipe.data.name)
        self._datasets = {
            split: data.build(recipe.data.options, split=split, seed=recipe.seed)
            for split in ("train", "eval")
        }
        frames = self._datasets["train"][0]["frames"]  # (N, C, H, W)
        self.num_frames, self.frame_channels = frames.shape[0], frames.shape[1]
        problems = []
        if "frames" not in self._datasets["eval"][0]:
            problems.append(
                f"data.name: {recipe.data.name!r} gives no clips ('frames'); interpolate needs them"
            )
        if self.num_frames % 2 != 1 or self.num_frames < 3:
            problems.append(
                f"data: interpolate needs an odd number >= 3 of frames, the data gives {self.num_frames}"
            )
        self.loss_fn = registry.get("loss", recipe.loss.name).build(recipe.loss.options)
        if getattr(self.loss_fn, "kind", None) != "regression":
            problems.append(
                f"loss.name: interpolate in regression mode needs a regression loss, got {recipe.loss.name!r}"
            )
        for name in recipe.eval.baselines:
            if name not in BASELINES:
                problems.append(
                    f"eval.baselines: unknown baseline {name!r}; valid choices: {', '.join(BASELINES)}"
                )
        if problems:
            raise RecipeError(problems)
        self.metric_specs = [(m.name, registry.get("metric", m.name), m.options) for m in recipe.eval.metrics]

    def channels(self) -> tuple[int, int]:
        return (self.num_frames - 1) * self.frame_channels, self.frame_channels

    def datasets(self) -> dict[str, Any]:
        return self._datasets

    def predict(self, model: nn.Module, context: torch.Tensor) -> torch.Tensor:
        b, n, c, h, w = context.shape
        x = context.reshape(b, n * c, h, w)  # (B, (N-1)*C, H, W)
        t = torch.zeros(b, device=x.device)
        return model(x, t)  # (B, C, H, W)

    def training_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        context, target = split_clip(batch["frames"])
        pred = self.predict(model, context)
        return self.loss_fn(pred.float(), target), {}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> EvalResult:
        predictors = {"model": lambda ctx: self.predict(model, ctx).float().clamp(0, 1)}
        predictors.update({name: BASELINES[name] for name in self.recipe.eval.baselines})
        metrics = {p: {n: c.build(o) for n, c, o in self.metric_specs} for p in predictors}
        shown: list[torch.Tensor] = []  # rows of (N+2, C, H, W): context, prediction, target, |error|
        loss_sum, count = 0.0, 0
        for batch in batches:
            context, target = split_clip(batch["frames"])
            for pname, predict in predictors.items():
                pred = predict(context)  # (B, C, H, W)
                if pname == "model":
                    loss_sum += float(self.loss_fn(pred, target)) * len(target)
                    count += len(target)
                    for i in range(min(len(target), self.recipe.eval.num_images - len(shown))):
                        error = (pred[i] - target[i]).abs()
                        shown.append(torch.cat([context[i], pred[i, None], target[i, None], error[None]]))
                for metric in metrics[pname].values():
                    metric.update(pred, target)
        scores = {f"{p}/{n}": m.compute() for p, ms in metrics.items() for n, m in ms.items()}
        scores["model/loss"] = loss_sum / max(count, 1)
        images = {"clips": clip_grid(torch.stack(shown))} if shown else {}
        return EvalResult(scores, images)
