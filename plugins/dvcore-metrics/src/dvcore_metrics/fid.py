"""Fréchet Inception Distance (Heusel et al. 2017): the Fréchet distance between two Gaussians fitted to
features.

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))            (Heusel et al., eq. 6)

The one delicate term is tr((S1 S2)^(1/2)). S1 S2 is not symmetric, and with 2048-d features
from a few thousand samples both covariances are (nearly) singular, which is where
``scipy.linalg.sqrtm(S1 @ S2)`` (pytorch-fid's route) can return complex or non-finite values
and needs an eps * I offset. Here instead:

    tr((S1 S2)^(1/2)) = tr((R S2 R)^(1/2)) = sum_i sqrt(lambda_i(R S2 R)),   R = S1^(1/2)

because S1 S2 = R (R S2) is similar to (R S2) R = R S2 R when S1 is invertible, and by continuity
(the nonzero eigenvalues of AB and BA agree) when it is not. R and R S2 R are symmetric positive
semi-definite, so both come from ``numpy.linalg.eigh``, which is backward stable, always real,
and needs no offset. Eigenvalues within round-off of zero (below D * eps * the largest, numpy's
``matrix_rank`` tolerance, negative ones included) are set to zero before the square root,
which would otherwise turn each into ~1e-8 * sqrt(largest) of noise. Everything is float64. For 2048-d
features this is two
eigendecompositions, faster than ``sqrtm`` and exact up to round-off on singular covariances.

``FeatureStats`` accumulates the mean and covariance of features batch by batch without keeping
them (float64; each batch is merged with the pairwise update of Chan et al. 1979, which centres
every batch on its own mean, so a large common offset in the features costs no precision).
The covariance is the unbiased one (ddof = 1), as pytorch-fid's ``np.cov``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dvcore.api import existing_path, opt
from dvcore_metrics.features import Features
from dvcore_metrics.set_metric import FeatureOptions, SetMetric

# ---------------------------------------------------------------------------------------------
#                                   Fréchet distance
# ---------------------------------------------------------------------------------------------


def _float64(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def numerically_nonnegative(w: np.ndarray) -> np.ndarray:
    """Eigenvalues of a PSD matrix with the round-off around zero set to zero.

    Values below D * eps * max(w) (numpy's matrix_rank tolerance) cannot be told from zero; left
    as they are, the square root would turn each into ~1e-8 * sqrt(max(w)) of pure noise.
    """
    tol = len(w) * np.finfo(np.float64).eps * max(float(w.max(initial=0.0)), 0.0)
    return np.where(w > tol, w, 0.0)


def sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via eigh."""
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(numerically_nonnegative(w))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for covariances S1, S2, as sum sqrt(eig(S1^(1/2) S2 S1^(1/2)))."""
    root = sqrt_psd(sigma1)
    inner = root @ sigma2 @ root  # symmetric PSD, similar to S1 S2
    w = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(numerically_nonnegative(w)).sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Means (D,), covariances (D, D); numpy arrays or torch tensors. Zero for identical inputs up to
    round-off (which may leave it a hair below zero; it is not clamped).
    """
    mu1, mu2, sigma1, sigma2 = _float64(mu1), _float64(mu2), _float64(sigma1), _float64(sigma2)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(
            f"expected two means of the same shape (D,), got {list(mu1.shape)} and {list(mu2.shape)}"
        )
    d = mu1.shape[0]
    for s in (sigma1, sigma2):
        if s.shape != (d, d):
            raise ValueError(f"expected covariances of shape [{d}, {d}], got {list(s.shape)}")
    for a in (mu1, mu2, sigma1, sigma2):
        if not np.isfinite(a).all():
            raise ValueError("expected finite means and covariances, got NaN or inf")
    diff = mu1 - mu2
    # Heusel et al. 2017, eq. (6)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))


# ---------------------------------------------------------------------------------------------
#                                   Streaming statistics
# ---------------------------------------------------------------------------------------------


class FeatureStats:
    """Mean and covariance (ddof = 1) of features added batch by batch, in float64, features not kept.

    Saved as .npz (``save``/``load``, no pickles) with keys ``mu`` (D,), ``sigma`` (D, D), ``n``
    (sample count) and ``feature_extractor`` (the network's name). Files holding only ``mu`` and
    ``sigma`` (pytorch-fid's and clean-fid's statistics) load too, with an unknown count: they
    can be compared against but not extended.
    """

    def __init__(self, dim: int, feature_extractor: str = ""):
        self.dim, self.feature_extractor = dim, feature_extractor
        self.n = 0
        self._mean = np.zeros(dim)  # (D,)
        self._m2 = np.zeros((dim, dim))  # (D, D) sum of outer products of deviations from the mean
        self._sigma_only: np.ndarray | None = None  # a covariance loaded without its sample count

    def update(self, features: Any) -> None:
        """Add a batch of features (B, D), numpy or torch."""
        x = _float64(features)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected features of shape [B, {self.dim}], got {list(x.shape)}")
        if len(x):
            mean = x.mean(axis=0)  # (D,)
            centred = x - mean  # (B, D)
            self._merge(len(x), mean, centred.T @ centred)

    def merge(self, other: FeatureStats) -> None:
        """Add everything `other` holds (e.g. the statistics of another process)."""
        if other.dim != self.dim or other.feature_extractor != self.feature_extractor:
            raise ValueError(
                f"expected statistics of {self.dim}-d {self.feature_extractor!r} features, "
                f"got {other.dim}-d {other.feature_extractor!r}"
            )
        if other._sigma_only is not None:
            raise ValueError("cannot merge statistics loaded without a sample count")
        if other.n:
            self._merge(other.n, other._mean, other._m2)

    def _merge(self, count: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Chan, Golub & LeVeque (1979): pool two sets' means and centred sums of outer products."""
        if self._sigma_only is not None:
            raise ValueError("cannot add features to statistics loaded without a sample count")
        total = self.n + count
        delta = mean - self._mean  # (D,)
        self._m2 += m2 + np.outer(delta, delta) * (self.n * count / total)
        self._mean += delta * (count / total)
        self.n = total

    @property
    def ready(self) -> bool:
        """Whether there is a covariance to use: at least 2 samples, or one loaded from a file."""
        return self._sigma_only is not None or self.n >= 2

    @property
    def mu(self) -> np.ndarray:
        """The mean (D,) float64."""
        return self._mean.copy()

    @property
    def sigma(self) -> np.ndarray:
        """The unbiased covariance (D, D) float64."""
        if self._sigma_only is not None:
            return self._sigma_only.copy()
        if self.n < 2:
            raise ValueError(f"expected at least 2 samples for a covariance, got {self.n}")
        return self._m2 / (self.n - 1)

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write mu, sigma, n and feature_extractor (plus any `extra` arrays) to `path` as .npz, exactly
        there.
        """
        arrays = {"mu": self.mu, "sigma": self.sigma, "feature_extractor": np.str_(self.feature_extractor)}
        if self._sigma_only is None:  # a count loaded as unknown stays unknown
            arrays["n"] = np.int64(self.n)
        with open(path, "wb") as f:
            np.savez(f, **arrays, **extra)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        """Read statistics written by ``save`` (or pytorch-fid's mu/sigma .npz), without unpickling."""
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("mu", "sigma") if k not in data.files]
            if missing:
                raise ValueError(
                    f"{str(path)!r} is not a statistics file: expected arrays mu and sigma, "
                    f"got {', '.join(data.files) or 'none'}"
                )
            mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
            n = int(data["n"]) if "n" in data.files else None
            name = str(data["feature_extractor"]) if "feature_extractor" in data.files else ""
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"{str(path)!r}: expected mu (D,) and sigma (D, D), got {mu.shape} and {sigma.shape}"
            )
        stats = cls(mu.shape[0], name)
        stats._mean = mu
        if n is None:
            stats._sigma_only = sigma
        else:
            stats.n, stats._m2 = n, sigma * (n - 1)
        return stats


# ---------------------------------------------------------------------------------------------
#                                   The metric
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class FIDOptions(FeatureOptions):
    """Options of the fid metric."""

    reference: str | None = opt(
        None,
        "statistics .npz of the real images (from save_reference, pytorch-fid or clean-fid); "
        "unset = real images are passed to update as target",
        existing_path,
    )


class FID(SetMetric):
    """FID between generated (pred) and real (target or reference file) images; lower is better."""

    name = "fid"
    higher_is_better = False

    def __init__(self, options: FIDOptions | None = None) -> None:
        options = options if options is not None else FIDOptions()
        super().__init__(options, options.reference)

    def reset_generated(self) -> None:
        self.generated = FeatureStats(self.extractor.dim, self.extractor.name)

    def reset_real(self) -> None:
        self.real = FeatureStats(self.extractor.dim, self.extractor.name)

    def add_generated(self, features: Features) -> None:
        self.generated.update(features.pool)

    def add_real(self, features: Features) -> None:
        self.real.update(features.pool)

    def load_reference(self, path: Path) -> None:
        stats = FeatureStats.load(path)
        self.check_reference(path, stats.feature_extractor, stats.dim)
        stats.feature_extractor = self.extractor.name
        self.real = stats

    def save_reference(self, path: str | Path) -> None:
        if not self.real.ready:
            raise ValueError(f"fid: expected at least 2 real images (target) to save, got {self.real.n}")
        self.real.save(path)

    def compute(self) -> float:
        if not (self.generated.ready and self.real.ready):
            return float("nan")
        return frechet_distance(self.generated.mu, self.generated.sigma, self.real.mu, self.real.sigma)
