"""Inception Score (Salimans et al. 2016): how confidently and how diversely a classifier labels the samples.

    IS = exp( E_x[ KL( p(y|x) || p(y) ) ] ),   p(y) = E_x[ p(y|x) ]              (Salimans et al., sec. 4)

computed, as in the original code, on ``splits`` (10) consecutive chunks of the samples, each
with its own marginal p(y); the score is the mean over chunks (``inception_score_splits`` gives
each chunk's, e.g. for the usual "mean ± std"). It ranges from 1 (every sample gets the same
label distribution) to the number of classes (each sample one confident label, all labels used
equally). p(y|x) is the softmax of the feature network's logits over all its classes (all 1008
for the FID Inception, fc weight and bias included), in float64. There is no reference set:
``target`` is ignored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from dvcore.api import gt, opt
from dvcore_metrics.features import Features
from dvcore_metrics.set_metric import FeatureOptions, SetMetric


def inception_score_splits(logits: Any, splits: int = 10) -> np.ndarray:
    """The score of each of `splits` consecutive chunks: logits (N, K) -> (splits,) float64."""
    log_p = torch.as_tensor(logits).double().log_softmax(dim=1)  # (N, K) log p(y|x)
    if log_p.ndim != 2 or len(log_p) < splits:
        raise ValueError(f"expected logits [N, K] with N >= splits = {splits}, got {list(log_p.shape)}")
    scores = []
    for chunk in log_p.tensor_split(splits):  # (n, K) each, sizes differ by at most 1
        log_marginal = torch.logsumexp(chunk, dim=0) - math.log(len(chunk))  # (K,) log p(y)
        p = chunk.exp()  # (n, K)
        kl = torch.where(p > 0, p * (chunk - log_marginal), 0.0).sum(dim=1)  # (n,) KL(p(y|x) || p(y))
        scores.append(math.exp(float(kl.mean())))
    return np.array(scores)


def inception_score(logits: Any, splits: int = 10) -> float:
    """IS of logits (N, K): the mean over splits of exp(E[KL(p(y|x) || p(y))])."""
    return float(inception_score_splits(logits, splits).mean())


@attrs.frozen
class InceptionScoreOptions(FeatureOptions):
    """Options of the inception_score metric."""

    splits: int = opt(10, "consecutive chunks of the samples, each scored with its own marginal", gt(0))


class InceptionScore(SetMetric):
    """Inception Score of the generated (pred) images; higher is better; target is ignored."""

    name = "inception_score"
    higher_is_better = True
    uses_reference = False

    def __init__(self, options: InceptionScoreOptions | None = None) -> None:
        options = options if options is not None else InceptionScoreOptions()
        super().__init__(options)
        if self.extractor.num_classes < 2:
            raise ValueError(f"inception_score needs a classifier; {self.extractor.name} has no logits")

    def reset_generated(self) -> None:
        self.logits: list[torch.Tensor] = []

    def reset_real(self) -> None:
        pass

    def add_generated(self, features: Features) -> None:
        assert features.logits is not None
        self.logits.append(features.logits)  # (B, K) float32 on the CPU

    def save_reference(self, path: str | Path) -> None:
        raise ValueError("inception_score has no reference: it scores the generated images alone")

    def compute_splits(self) -> np.ndarray:
        """The score of each split (splits,); empty until there are at least `splits` samples."""
        splits = self.options.splits
        if sum(len(x) for x in self.logits) < splits:
            return np.empty(0)
        return inception_score_splits(torch.cat(self.logits), splits)

    def compute(self) -> float:
        values = self.compute_splits()
        return float(values.mean()) if len(values) else float("nan")
