"""example_extrapolate: the next frame of a clip from the frames before it (regression, t = 0).

The task builds its data, loss and metrics from the recipe through the registry, tells the
backbone its channels (context frames x C in, C out), and scores the model beside the
"copy the last frame" guess, as "<predictor>/<metric>" (``model/example_mae``,
``copy/example_mae``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from dvcore.api import EvalResult, RecipeError, TaskBase
from dvcore_example.options import ExtrapolateOptions


class Extrapolate(TaskBase):
    """Context frames, channel-concatenated, in; the frame after them out."""

    def __init__(self, options: ExtrapolateOptions, *, recipe: Any, registry: Any):
        self.options = options
        data = registry.get("dataset", recipe.data.name)
        self._datasets = {
            s: data.build(recipe.data.options, split=s, seed=recipe.seed) for s in ("train", "eval")
        }
        problems = []
        sample = self._datasets["train"][0]
        if "frames" not in sample:
            raise RecipeError(
                [f"data.name: {recipe.data.name!r} gives no clips ('frames'); example_extrapolate needs them"]
            )
        num_frames, self.frame_channels = sample["frames"].shape[:2]
        self.context = options.context or num_frames - 1
        if self.context > num_frames - 1:
            problems.append(
                f"task.context: expected <= {num_frames - 1} (the clips have {num_frames} frames), got "
                f"{self.context}"
            )
        self.loss = registry.get("loss", recipe.loss.name).build(recipe.loss.options)
        if getattr(self.loss, "kind", None) != "regression":
            problems.append(
                f"loss.name: example_extrapolate needs a regression loss, got {recipe.loss.name!r}"
            )
        if problems:
            raise RecipeError(problems)
        self.metric_specs = [(m.name, registry.get("metric", m.name), m.options) for m in recipe.eval.metrics]
        self.num_images = recipe.eval.num_images

    def channels(self) -> tuple[int, int]:
        return self.context * self.frame_channels, self.frame_channels

    def datasets(self) -> dict[str, Any]:
        return self._datasets

    def split(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, C, H, W) -> model input (B, context*C, H, W), target (B, C, H, W): the last frame."""
        context = frames[:, -1 - self.context : -1]  # (B, context, C, H, W)
        return context.flatten(1, 2), frames[:, -1]

    def predict(self, model: nn.Module, frames: torch.Tensor) -> torch.Tensor:
        x, _ = self.split(frames)
        return model(x, torch.zeros(x.shape[0], device=x.device))  # regression: t = 0

    def training_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        _, target = self.split(batch["frames"])
        return self.loss(self.predict(model, batch["frames"]), target), {}

    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> EvalResult:
        predictors = ("model", "copy")
        metrics = {p: [(n, c.build(o)) for n, c, o in self.metric_specs] for p in predictors}
        device = next(model.parameters()).device
        shown: list[torch.Tensor] = []
        for batch in batches:
            frames = batch["frames"].to(device)
            _, target = self.split(frames)
            with torch.no_grad():
                guesses = {"model": self.predict(model, frames).float().clamp(0, 1), "copy": frames[:, -2]}
            for predictor, guess in guesses.items():
                for _, metric in metrics[predictor]:
                    metric.update(guess, target)
            if len(shown) < self.num_images:  # last context frame | prediction | truth, side by side
                rows = torch.cat([frames[:, -2], guesses["model"], target], dim=-1)  # (B, C, H, 3W)
                shown += list(rows[: self.num_images - len(shown)].cpu())
        scores = {f"{p}/{n}": m.compute() for p, ms in metrics.items() for n, m in ms}
        images = {"predictions": torch.cat(shown, dim=-2).expand(3, -1, -1)} if shown else {}  # (3, k*H, 3W)
        return EvalResult(scores, images)

    def movie_frames(
        self, model: nn.Module, *, num: int, sampler: Any, num_steps: int | None, seed: int, scale: int
    ) -> list[np.ndarray]:
        """``dvcore movie``: eval clips played frame by frame, truth | model; the last frame is predicted.

        (A capability: ``dvcore.api.MakesMovieFrames``. ``sampler``, ``num_steps`` and ``seed`` do
        not apply to a regression task.)
        """
        eval_set = self._datasets["eval"]
        frames = torch.stack(
            [eval_set[i]["frames"] for i in range(min(num, len(eval_set)))]
        )  # (K, N, C, H, W)
        device = next(model.parameters()).device
        with torch.no_grad():
            pred = self.predict(model, frames.to(device)).float().clamp(0, 1).cpu()  # (K, C, H, W)
        out = []
        for k in range(frames.shape[1]):
            truth = frames[:, k]  # (K, C, H, W)
            guess = pred if k == frames.shape[1] - 1 else truth
            grid = torch.cat([torch.cat([t, g], dim=-1) for t, g in zip(truth, guess, strict=True)], dim=-2)
            image = (grid.expand(3, -1, -1) * 255).round().to(torch.uint8).permute(1, 2, 0)  # (K*H, 2W, 3)
            out.append(image.repeat_interleave(scale, 0).repeat_interleave(scale, 1).numpy())
        return out


def build_extrapolate(options: ExtrapolateOptions, *, recipe: Any, registry: Any) -> Extrapolate:
    """The next frame of a clip from the frames before it."""
    return Extrapolate(options, recipe=recipe, registry=registry)
