"""KID: unbiased MMD^2 against a direct double loop, subset averaging, and the metric's reference files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dvcore_metrics import (
    FID,
    KID,
    FIDOptions,
    KIDOptions,
    kernel_inception_distance,
    kid_subsets,
    mmd2_unbiased,
)


def direct_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with k(a, b) = (a·b/d + 1)^3, pair by pair."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_matches_a_direct_pairwise_computation() -> None:
    rng = np.random.default_rng(0)
    for m, n, d in [(12, 9, 5), (7, 7, 16), (2, 3, 4)]:
        x, y = rng.standard_normal((m, d)), rng.standard_normal((n, d)) + 0.4
        ours = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y))
        assert ours == pytest.approx(direct_mmd2_unbiased(x, y), rel=1e-12, abs=1e-12)


def test_mmd2_is_computed_in_float64_from_float32_features() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((10, 6)).astype(np.float32), rng.standard_normal((8, 6)).astype(np.float32)
    ours = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y))
    assert ours == pytest.approx(direct_mmd2_unbiased(x.astype(np.float64), y.astype(np.float64)), rel=1e-12)


def test_kid_averages_the_documented_subset_draws() -> None:
    rng = np.random.default_rng(2)
    gen, real = rng.standard_normal((40, 5)), rng.standard_normal((30, 5)) + 0.2
    values = kid_subsets(gen, real, subsets=4, subset_size=10, seed=7)
    draws = np.random.default_rng(7)
    expected = []
    for _ in range(4):
        i, j = draws.choice(40, 10, replace=False), draws.choice(30, 10, replace=False)
        expected.append(direct_mmd2_unbiased(gen[i], real[j]))
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert kernel_inception_distance(gen, real, subsets=4, subset_size=10, seed=7) == pytest.approx(
        np.mean(expected), rel=1e-12
    )


def test_subsets_as_large_as_the_sets_give_the_mmd_of_the_whole_sets() -> None:
    rng = np.random.default_rng(3)
    gen, real = rng.standard_normal((15, 4)), rng.standard_normal((15, 4))
    values = kid_subsets(gen, real, subsets=3, subset_size=1000, seed=0)  # capped at 15: permutations
    np.testing.assert_allclose(values, direct_mmd2_unbiased(gen, real), rtol=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((400, 16)), rng.standard_normal((400, 16))
    shifted = rng.standard_normal((400, 16)) + 0.5
    same = kernel_inception_distance(a, b, subsets=10, subset_size=200)
    apart = kernel_inception_distance(a, shifted, subsets=10, subset_size=200)
    assert abs(same) < 0.02 and apart > 0.5  # measured: same -0.005, apart 1.02


def test_kid_needs_two_samples_per_set() -> None:
    with pytest.raises(ValueError, match="expected at least 2 samples in each set, got 1 and 5"):
        kid_subsets(np.zeros((1, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------------------------------------
#                                   The metric
# ---------------------------------------------------------------------------------------------


def smooth_images(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Images with some structure: random 4x4 colour fields upsampled to 16x16, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 0.6 + 0.2 + shift
    return torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear").clamp(0, 1)


def test_kid_metric_equals_kid_of_the_extracted_features() -> None:
    options = KIDOptions(features="random_conv", device="cpu", subsets=5, subset_size=50)
    metric = KID(options)
    gen, real = smooth_images(60, 0), smooth_images(80, 1, shift=0.1)
    for g, r in zip(gen.split(25), real.split(25), strict=False):  # 3 and 4 batches: zip stops at 3
        metric.update(g, r)
    metric.update(None, real[75:])
    features_gen = metric.features(gen).pool
    features_real = metric.features(real).pool
    assert metric.compute() == pytest.approx(
        kernel_inception_distance(features_gen, features_real, subsets=5, subset_size=50, seed=0), rel=1e-5
    )
    assert metric.compute_subsets().shape == (5,)
    assert (metric.name, metric.higher_is_better) == ("kid", False)


def test_kid_reference_file_keeps_raw_features_and_serves_fid_too(tmp_path: Path) -> None:
    common = {"features": "random_conv", "device": "cpu"}
    gen, real = smooth_images(50, 2), smooth_images(70, 3)
    direct = KID(KIDOptions(**common, subsets=3, subset_size=40))
    direct.update(gen, real)
    direct.save_reference(tmp_path / "ref.npz")
    with np.load(tmp_path / "ref.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["feature_extractor", "features", "mu", "n", "sigma"]
        assert data["features"].shape == (70, 64) and data["features"].dtype == np.float32
    from_file = KID(KIDOptions(**common, subsets=3, subset_size=40, reference=str(tmp_path / "ref.npz")))
    from_file.update(gen, None)
    assert from_file.compute() == pytest.approx(direct.compute(), rel=1e-12)
    fid_direct, fid_file = (
        FID(FIDOptions(**common)),
        FID(FIDOptions(**common, reference=str(tmp_path / "ref.npz"))),
    )
    fid_direct.update(gen, real)
    fid_file.update(gen, None)
    assert fid_file.compute() == pytest.approx(fid_direct.compute(), rel=1e-9)


def test_kid_rejects_a_reference_without_raw_features(tmp_path: Path) -> None:
    fid = FID(FIDOptions(features="random_conv", device="cpu"))
    fid.update(None, smooth_images(10, 4))
    fid.save_reference(tmp_path / "fid_only.npz")
    with pytest.raises(ValueError, match=r"holds no raw features .* save the reference with the kid metric"):
        KID(KIDOptions(features="random_conv", device="cpu", reference=str(tmp_path / "fid_only.npz")))


def test_kid_metric_is_nan_until_both_sides_have_two_samples() -> None:
    metric = KID(KIDOptions(features="random_conv", device="cpu"))
    assert np.isnan(metric.compute())
    metric.update(smooth_images(5, 5), smooth_images(1, 6))
    assert np.isnan(metric.compute())
    metric.update(None, smooth_images(1, 7))
    assert np.isfinite(metric.compute())
