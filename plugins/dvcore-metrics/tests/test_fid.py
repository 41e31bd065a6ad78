"""The Fréchet distance against scipy's sqrtm and closed forms; streaming feature statistics and their
files."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from dvcore_metrics import FeatureStats, frechet_distance

linalg = pytest.importorskip("scipy.linalg")


def scipy_frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The textbook route (pytorch-fid's): sqrtm(S1 S2), with an eps offset if it is not finite, real part."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on singular products
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            offset = 1e-6 * np.eye(len(s1))
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(covmean)))


def random_covariance(rng: np.random.Generator, dim: int, samples: int, shift: float = 0.0) -> np.ndarray:
    """Sample covariance of `samples` Gaussian vectors: full rank if samples > dim, else rank `samples`."""
    a = rng.standard_normal((dim, samples)) + shift
    return a @ a.T / samples


def covariance_with_spectrum(rng: np.random.Generator, eigenvalues: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return (q * eigenvalues) @ q.T


# ---------------------------------------------------------------------------------------------
#                                   Fréchet distance
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "samples"), [(8, 40), (32, 100), (32, 40), (64, 200)])
def test_frechet_distance_matches_scipy_sqrtm_on_random_covariances(dim: int, samples: int) -> None:
    rng = np.random.default_rng(dim + samples)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    s1, s2 = random_covariance(rng, dim, samples), random_covariance(rng, dim, samples, shift=0.3)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-9)
    assert ours > 1.0


def test_frechet_distance_matches_scipy_on_near_singular_covariances() -> None:
    rng = np.random.default_rng(1)
    s1 = covariance_with_spectrum(rng, np.logspace(-12, 0, 32))  # condition number 1e12
    s2 = covariance_with_spectrum(rng, np.logspace(-10, 1, 32))
    mu1, mu2 = np.zeros(32), np.full(32, 0.1)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_distance_matches_scipy_on_rank_deficient_covariances() -> None:
    """Fewer samples than dimensions (as 2K Inception features in 2048-d): both covariances singular."""
    rng = np.random.default_rng(2)
    for samples in (20, 8):
        s1, s2 = random_covariance(rng, 32, samples), random_covariance(rng, 32, samples, shift=0.3)
        assert np.linalg.matrix_rank(s1) == samples
        mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-6)


def test_singular_commuting_covariances_give_the_closed_form_exactly() -> None:
    """S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T commute: tr sqrt(S1 S2) = sum sqrt(a b), zeros included."""
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.uniform(0.1, 2, 20), np.zeros(12)])  # rank 20 of 32
    b = np.concatenate([rng.uniform(0.1, 2, 10), np.zeros(6), rng.uniform(0.1, 2, 16)])
    q, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_identical_statistics_are_at_distance_zero() -> None:
    rng = np.random.default_rng(4)
    mu, sigma = rng.standard_normal(64), random_covariance(rng, 64, 30)  # rank-deficient too
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)


def test_one_dimensional_gaussians_follow_the_closed_form() -> None:
    for m1, v1, m2, v2 in [
        (0.0, 1.0, 0.0, 4.0),
        (1.5, 0.25, -2.0, 3.0),
        (3.0, 2.0, 3.0, 2.0),
        (0.0, 0.0, 1.0, 1.0),
    ]:
        expected = (m1 - m2) ** 2 + v1 + v2 - 2 * math.sqrt(v1 * v2)
        ours = frechet_distance(np.array([m1]), np.array([[v1]]), np.array([m2]), np.array([[v2]]))
        assert ours == pytest.approx(expected, abs=1e-12)


def test_diagonal_covariances_follow_the_closed_form() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0, 3, 16), rng.uniform(0, 3, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_distance_is_symmetric_and_invariant_to_a_common_rotation() -> None:
    rng = np.random.default_rng(6)
    mu1, mu2 = rng.standard_normal(24), rng.standard_normal(24)
    s1, s2 = random_covariance(rng, 24, 50), random_covariance(rng, 24, 50, shift=0.5)
    q, _ = np.linalg.qr(rng.standard_normal((24, 24)))
    d = frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(d, rel=1e-10)
    assert frechet_distance(q @ mu1, q @ s1 @ q.T, q @ mu2, q @ s2 @ q.T) == pytest.approx(d, rel=1e-10)


def test_torch_tensors_are_accepted() -> None:
    rng = np.random.default_rng(7)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    s1, s2 = random_covariance(rng, 8, 20), random_covariance(rng, 8, 20)
    as_torch = [torch.from_numpy(x).float() for x in (mu1, s1, mu2, s2)]
    assert frechet_distance(*as_torch) == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=1e-5)


def test_mismatched_or_non_finite_statistics_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"expected two means of the same shape \(D,\), got \[3\] and \[4\]"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"expected covariances of shape \[3, 3\], got \[3, 4\]"):
        frechet_distance(np.zeros(3), np.zeros((3, 4)), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="expected finite means and covariances"):
        frechet_distance(np.zeros(2), np.eye(2), np.array([0.0, np.nan]), np.eye(2))


# ---------------------------------------------------------------------------------------------
#                                   Streaming statistics
# ---------------------------------------------------------------------------------------------


def batches_of(features: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    assert sum(sizes) == len(features)
    return np.split(features, np.cumsum(sizes)[:-1])


def test_streaming_statistics_equal_numpy_mean_and_cov_of_all_features() -> None:
    rng = np.random.default_rng(8)
    # A large common offset: naive sums of squares would lose digits, the pairwise update does not.
    features = 1e4 + rng.standard_normal((100, 12)) @ rng.standard_normal((12, 12))
    features[38:40] = features[38:40].astype(np.float32)  # that batch goes in as a float32 tensor
    stats = FeatureStats(12, "test")
    for batch in batches_of(features, [1, 7, 30, 2, 60]):
        stats.update(torch.from_numpy(batch).float() if len(batch) == 2 else batch)
    assert stats.n == 100
    np.testing.assert_allclose(stats.mu, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(features, rowvar=False, ddof=1), rtol=1e-9, atol=1e-9)


def test_merging_statistics_equals_accumulating_everything_in_one() -> None:
    rng = np.random.default_rng(9)
    features = rng.standard_normal((50, 6)) + 3.0
    whole, left, right = FeatureStats(6), FeatureStats(6), FeatureStats(6)
    whole.update(features)
    left.update(features[:17])
    right.update(features[17:])
    left.merge(right)
    assert left.n == 50
    np.testing.assert_allclose(left.mu, whole.mu, rtol=1e-13)
    np.testing.assert_allclose(left.sigma, whole.sigma, rtol=1e-12, atol=1e-14)


def test_statistics_need_two_samples_and_the_right_width() -> None:
    stats = FeatureStats(4)
    stats.update(np.ones((1, 4)))
    assert not stats.ready
    with pytest.raises(ValueError, match="expected at least 2 samples for a covariance, got 1"):
        _ = stats.sigma
    with pytest.raises(ValueError, match=r"expected features of shape \[B, 4\], got \[3, 5\]"):
        stats.update(np.ones((3, 5)))


def test_statistics_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    features = rng.standard_normal((40, 5))
    stats = FeatureStats(5, "random_conv")
    stats.update(features[:30])
    path = tmp_path / "ref.npz"
    stats.save(path)
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickles
        assert sorted(data.files) == ["feature_extractor", "mu", "n", "sigma"]
        assert str(data["feature_extractor"]) == "random_conv" and int(data["n"]) == 30
    loaded = FeatureStats.load(path)
    assert (loaded.n, loaded.dim, loaded.feature_extractor) == (30, 5, "random_conv")
    np.testing.assert_array_equal(loaded.mu, stats.mu)
    np.testing.assert_allclose(loaded.sigma, stats.sigma, rtol=1e-15)
    loaded.update(features[30:])  # a loaded file can be extended
    np.testing.assert_allclose(loaded.sigma, np.cov(features, rowvar=False), rtol=1e-12)


def test_statistics_save_to_the_exact_path_given(tmp_path: Path) -> None:
    stats = FeatureStats(2)
    stats.update(np.eye(2))
    stats.save(tmp_path / "stats.reference")
    assert (tmp_path / "stats.reference").exists() and not (tmp_path / "stats.reference.npz").exists()


def test_mu_sigma_files_of_other_tools_load_with_an_unknown_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    mu, sigma = rng.standard_normal(4), random_covariance(rng, 4, 10)
    np.savez(tmp_path / "pytorch_fid.npz", mu=mu, sigma=sigma)  # what pytorch-fid's --save-stats writes
    loaded = FeatureStats.load(tmp_path / "pytorch_fid.npz")
    assert loaded.ready and (loaded.n, loaded.feature_extractor) == (0, "")
    np.testing.assert_array_equal(loaded.sigma, sigma)
    with pytest.raises(ValueError, match="loaded without a sample count"):
        loaded.update(np.ones((2, 4)))
    loaded.save(tmp_path / "again.npz")
    with np.load(tmp_path / "again.npz") as data:
        assert "n" not in data.files  # an unknown count stays unknown


def test_files_without_mu_and_sigma_are_rejected(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match="expected arrays mu and sigma, got mean"):
        FeatureStats.load(tmp_path / "bad.npz")
