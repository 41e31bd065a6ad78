"""Scoring interpolation: the one path behind training-time evaluation and ``dvcore eval interp``.

Both score the same way, so the same run gives the same numbers whichever asks:

- the model's predictions: one per clip (regression), or ``samples`` independent samples per
  clip (diffusion). Sample s of clip i draws its noise from its own generator,
  ``seeding.generator(seed, "interpolate", i, s)``, so it does not depend on the batch the clip
  is drawn in;
- each baseline (copy, blend, flow ...) predicts once per clip;
- every predictor is scored by every metric, sample by sample (never the best of N). A clip's
  score is the mean over its samples; its spread is their standard deviation with ddof 1 (the
  sample standard deviation; 0 for a single sample);
- a predictor's score is the mean over clips of the clips' scores, and ``{metric}_std`` the mean
  over clips of their spreads. Set-level metrics (no per-sample values) report ``compute()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dvcore import seeding
from dvcore.metrics import Metric

Tensor = torch.Tensor


def model_predictions(
    task: Any, model: Any, context: Tensor, *, first_clip: int, samples: int, seed: int
) -> list[Tensor]:
    """The model's predictions of the middle frame for a batch of clips, each (B, C, H, W) in [0, 1]."""
    if task.diffusion is None:
        return [task.predict(model, context).float().clamp(0, 1)]
    draws = []
    for s in range(samples):
        generators = [seeding.generator(seed, "interpolate", first_clip + j, s) for j in range(len(context))]
        draws.append(task.sample_middle(model, context, generator=generators).x0.to(context.device))
    return draws


class InterpolationScores:
    """Per-clip scores of the model and the baselines, accumulated batch by batch.

    ``metrics`` builds a fresh metric by name; ``baselines`` maps a name to ``fn(context)``.
    """

    def __init__(
        self,
        metric_names: list[str],
        build_metric: Callable[[str], Metric],
        baselines: dict[str, Callable[[Tensor], Tensor]],
        *,
        samples: int,
        seed: int,
    ):
        self.metric_names, self.baselines, self.samples, self.seed = metric_names, baselines, samples, seed
        predictors = ["model", *baselines]
        self.metrics = {p: {n: build_metric(n) for n in metric_names} for p in predictors}
        self.rows: list[dict[str, Any]] = []
        self.num_clips = 0

    def update(
        self,
        task: Any,
        model: Any,
        context: Tensor,
        target: Tensor,
        *,
        baseline_frames: dict[str, Tensor] | None = None,
        columns: dict[str, Tensor] | None = None,
    ) -> list[Tensor]:
        """Score a batch: context (B, N-1, C, H, W), target (B, C, H, W); returns the model's predictions.

        ``baseline_frames``: baselines' predictions the caller already has (else each baseline is
        run on the context); ``columns``: extra per-clip values (B,) written into every row.
        """
        first = self.num_clips
        preds = model_predictions(
            task, model, context, first_clip=first, samples=self.samples, seed=self.seed
        )
        known = baseline_frames or {}
        predictions = {"model": preds}
        for name, fn in self.baselines.items():
            frame = known[name] if name in known else fn(context)
            predictions[name] = [frame.float().clamp(0, 1)]
        for predictor, draws in predictions.items():
            values = {n: [m.update(p, target) for p in draws] for n, m in self.metrics[predictor].items()}
            for j in range(len(target)):
                row: dict[str, Any] = {"clip": first + j, "predictor": predictor, "samples": len(draws)}
                row.update({key: float(v[j]) for key, v in (columns or {}).items()})
                for name, per_draw in values.items():
                    draws_j = [d[j] for d in per_draw if d is not None]
                    if not draws_j:  # a set-level metric: no per-clip value
                        continue
                    v = torch.stack(draws_j).double()  # (S,)
                    row[name] = float(v.mean())
                    row[f"{name}_std"] = float(v.std()) if len(v) > 1 else 0.0
                self.rows.append(row)
        self.num_clips += len(target)
        return preds

    def summary(self) -> dict[str, dict[str, float]]:
        """predictor -> {metric: mean over clips, metric_std: mean over clips of the per-clip std}."""
        per_sample = [n for n in self.metric_names if self.rows and n in self.rows[0]]
        out = summarize_rows(self.rows, per_sample)
        for predictor, metrics in self.metrics.items():
            out.setdefault(predictor, {})
            for name, metric in metrics.items():
                if name not in per_sample:  # set-level: no per-clip values
                    out[predictor][name] = float(metric.compute())
        return out

    def scores(self) -> dict[str, float]:
        """``{predictor}/{metric}``, and ``model/{metric}_std`` when the model drew several samples."""
        flat = {}
        for predictor, values in self.summary().items():
            for key, value in values.items():
                if key.endswith("_std") and (predictor != "model" or self.samples < 2):
                    continue
                flat[f"{predictor}/{key}"] = value
        return flat


def summarize_rows(rows: list[dict[str, Any]], metric_names: list[str]) -> dict[str, dict[str, float]]:
    """Per-clip rows -> predictor -> {metric: mean over clips, metric_std: mean of the per-clip stds}."""
    out: dict[str, dict[str, float]] = {}
    for predictor in dict.fromkeys(r["predictor"] for r in rows):
        mine = [r for r in rows if r["predictor"] == predictor]
        out[predictor] = {}
        for name in metric_names:
            out[predictor][name] = _mean([r[name] for r in mine])
            out[predictor][f"{name}_std"] = _mean([r[f"{name}_std"] for r in mine])
    return out


def _mean(values: list[float]) -> float:
    return float(torch.tensor(values, dtype=torch.float64).mean())
