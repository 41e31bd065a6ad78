"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 between feature sets, averaged over
subsets.

With the cubic polynomial kernel k(x, y) = (x·y / d + 1)^3 on d-dimensional features, and m
samples X from one set and Y from the other (Bińkowski et al., eq. 3; Gretton et al. 2012, eq. 3):

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/m^2 sum_{i, j} k(x_i, y_j)

It is unbiased, so it can be slightly negative when the two sets come from one distribution.
KID is its mean over ``subsets`` random subsets of ``subset_size`` samples drawn without
replacement from each set (100 x 1000 by default, as clean-fid and torch-fidelity do; the size
shrinks to the smaller set when a set is smaller). Subset s draws, from one numpy Generator
seeded with ``seed``: ``rng.choice(n_generated, m, replace=False)`` then
``rng.choice(n_real, m, replace=False)``; the same seed gives the same value.

Unlike FID this needs the features themselves, kept in float32 (50K x 2048 is 400 MB per set);
kernels are computed in float64 on the feature network's device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from dvcore.api import existing_path, ge, gt, opt
from dvcore_metrics.features import Features
from dvcore_metrics.fid import FeatureStats
from dvcore_metrics.set_metric import FeatureOptions, SetMetric

# ---------------------------------------------------------------------------------------------
#                                   MMD
# ---------------------------------------------------------------------------------------------


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x·y / d + 1)^3 for every pair: (m, d) x (n, d) -> (m, n)."""
    base = x @ y.T / x.shape[1] + 1.0  # (m, n)
    return base * base * base  # (m, n)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel between samples x (m, d) and y (n, d), in float64."""
    x, y = x.double(), y.double()
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"expected at least 2 samples in each set, got {m} and {n}")
    k_xx = polynomial_kernel(x, x)  # (m, m)
    k_yy = polynomial_kernel(y, y)  # (n, n)
    k_xy = polynomial_kernel(x, y)  # (m, n)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))  # mean over i != j
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid_subsets(
    generated: Any,
    real: Any,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """MMD^2_u of each random subset pair: features (N1, d), (N2, d) -> (subsets,) float64."""
    generated = torch.as_tensor(generated).to(device, torch.float64)  # (N1, d)
    real = torch.as_tensor(real).to(device, torch.float64)  # (N2, d)
    m = min(subset_size, len(generated), len(real))
    if m < 2:
        raise ValueError(f"expected at least 2 samples in each set, got {len(generated)} and {len(real)}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for s in range(subsets):
        i = torch.from_numpy(rng.choice(len(generated), m, replace=False)).to(device)
        j = torch.from_numpy(rng.choice(len(real), m, replace=False)).to(device)
        values[s] = mmd2_unbiased(generated[i], real[j])
    return values


def kernel_inception_distance(generated: Any, real: Any, **kwargs: Any) -> float:
    """KID: the mean of ``kid_subsets`` (same arguments)."""
    return float(kid_subsets(generated, real, **kwargs).mean())


# ---------------------------------------------------------------------------------------------
#                                   The metric
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class KIDOptions(FeatureOptions):
    """Options of the kid metric."""

    reference: str | None = opt(
        None,
        "reference .npz with raw features (saved by the kid metric's save_reference); "
        "unset = real images are passed to update as target",
        existing_path,
    )
    subsets: int = opt(100, "random subsets the MMD is averaged over", gt(0))
    subset_size: int = opt(1000, "samples per subset from each set (capped at the smaller set)", ge(2))
    seed: int = opt(0, "seed of the subset draws", ge(0))


class KID(SetMetric):
    """KID between generated (pred) and real (target or reference file) images; lower is better."""

    name = "kid"
    higher_is_better = False

    def __init__(self, options: KIDOptions | None = None) -> None:
        options = options if options is not None else KIDOptions()
        super().__init__(options, options.reference)

    def reset_generated(self) -> None:
        self.generated: list[torch.Tensor] = []

    def reset_real(self) -> None:
        self.real: list[torch.Tensor] = []

    def add_generated(self, features: Features) -> None:
        self.generated.append(features.pool)  # (B, d) float32 on the CPU

    def add_real(self, features: Features) -> None:
        self.real.append(features.pool)

    def load_reference(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            if "features" not in data.files:
                raise ValueError(
                    f"reference {str(path)!r} holds no raw features (only "
                    f"{', '.join(data.files) or 'nothing'}); "
                    "KID needs them: save the reference with the kid metric's save_reference"
                )
            features = data["features"].astype(np.float32)
            name = str(data["feature_extractor"]) if "feature_extractor" in data.files else ""
        if features.ndim != 2:
            raise ValueError(
                f"reference {str(path)!r}: expected features of shape [N, d], got {list(features.shape)}"
            )
        self.check_reference(path, name, features.shape[1])
        self.real = [torch.from_numpy(features)]

    def save_reference(self, path: str | Path) -> None:
        """Write the real features (float32) with their mean and covariance: usable by kid and fid alike."""
        features = torch.cat(self.real) if self.real else torch.zeros(0, self.extractor.dim)
        if len(features) < 2:
            raise ValueError(f"kid: expected at least 2 real images (target) to save, got {len(features)}")
        stats = FeatureStats(self.extractor.dim, self.extractor.name)
        stats.update(features)
        stats.save(path, features=features.numpy())

    def kernel_device(self) -> torch.device:
        """Where the kernels are computed: the feature network's device if it does float64 well, else cpu."""
        return self.extractor.device if self.extractor.device.type in ("cpu", "cuda") else torch.device("cpu")

    def compute_subsets(self) -> np.ndarray:
        """MMD^2_u of each subset (subsets,), e.g. for a standard deviation; empty until both sides hold 2."""
        n_gen, n_real = sum(len(f) for f in self.generated), sum(len(f) for f in self.real)
        if n_gen < 2 or n_real < 2:
            return np.empty(0)
        o = self.options
        return kid_subsets(
            torch.cat(self.generated),
            torch.cat(self.real),
            subsets=o.subsets,
            subset_size=o.subset_size,
            seed=o.seed,
            device=self.kernel_device(),
        )

    def compute(self) -> float:
        values = self.compute_subsets()
        return float(values.mean()) if len(values) else float("nan")
