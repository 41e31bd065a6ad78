"""Inception Score: its two extremes, a direct numpy computation, and the metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvcore_metrics import InceptionScore, InceptionScoreOptions, inception_score, inception_score_splits


def numpy_inception_score(logits: np.ndarray, splits: int) -> list[float]:
    """exp(mean KL(p(y|x) || p(y))) per consecutive split, written out with numpy."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(axis=0)
        kl = np.sum(chunk * (np.log(chunk) - np.log(marginal)), axis=1)
        scores.append(math.exp(kl.mean()))
    return scores


def test_identical_label_distributions_score_one() -> None:
    logits = torch.zeros(20, 7)  # every sample uniform over 7 classes
    assert inception_score(logits, splits=2) == pytest.approx(1.0, abs=1e-12)
    same_peaked = torch.tensor([[5.0, 1.0, -2.0]]).repeat(12, 1)  # confident, but all alike
    assert inception_score(same_peaked, splits=3) == pytest.approx(1.0, abs=1e-12)


def test_confident_distinct_labels_score_the_number_of_classes() -> None:
    one_hot = 1e3 * torch.eye(8)  # each sample certain of its own class
    assert inception_score(one_hot, splits=1) == pytest.approx(8.0, rel=1e-12)
    two_rounds = torch.cat([one_hot, one_hot])
    np.testing.assert_allclose(inception_score_splits(two_rounds, splits=2), [8.0, 8.0], rtol=1e-12)


def test_inception_score_matches_a_direct_numpy_computation() -> None:
    rng = np.random.default_rng(0)
    logits = 3 * rng.standard_normal((10, 5))  # 10 samples in 3 uneven splits: 4, 3, 3
    ours = inception_score_splits(torch.from_numpy(logits), splits=3)
    np.testing.assert_allclose(ours, numpy_inception_score(logits, 3), rtol=1e-12)
    assert ours.min() > 1.0 and ours.max() < 5.0


def test_too_few_samples_for_the_splits_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"expected logits \[N, K\] with N >= splits = 10, got \[4, 3\]"):
        inception_score(torch.zeros(4, 3))


def test_metric_scores_generated_images_and_ignores_target() -> None:
    metric = InceptionScore(InceptionScoreOptions(features="random_conv", device="cpu", splits=2))
    assert math.isnan(metric.compute())
    g = torch.Generator().manual_seed(0)
    images = torch.rand(24, 3, 16, 16, generator=g)
    metric.update(images[:10], torch.zeros(10, 3, 16, 16))  # the target is not looked at
    metric.update(images[10:], None)
    logits = metric.features(images).logits
    assert metric.compute() == pytest.approx(inception_score(logits, splits=2), rel=1e-5)
    assert metric.compute_splits().shape == (2,)
    assert (metric.name, metric.higher_is_better, metric.uses_reference) == ("inception_score", True, False)
    with pytest.raises(ValueError, match=r"inception_score: expected generated images \(pred\), got None"):
        metric.update(None, images)
    with pytest.raises(ValueError, match="inception_score has no reference"):
        metric.save_reference("unused.npz")
