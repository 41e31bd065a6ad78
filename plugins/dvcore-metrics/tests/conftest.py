"""Shared test images: random ones and crops of the photos scikit-learn ships."""

from __future__ import annotations

import numpy as np
import pytest

from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)


@pytest.fixture(scope="session")
def photos() -> list[np.ndarray]:
    """The two sample photos (china, flower), downsampled 4x: float64 [3, H, W] in [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    images = datasets.load_sample_images().images  # (427, 640, 3) uint8 each
    return [np.ascontiguousarray(im[::4, ::4].transpose(2, 0, 1)) / 255.0 for im in images]


def degrade(
    image: np.ndarray, rng: np.random.Generator, blur: float = 1.0, noise: float = 0.03
) -> np.ndarray:
    """Blur each channel and add Gaussian noise, clipped to [0, 1]: [C, H, W] -> [C, H, W]."""
    ndimage = pytest.importorskip("scipy.ndimage")
    blurred = ndimage.gaussian_filter(image, sigma=(0, blur, blur))
    return np.clip(blurred + noise * rng.standard_normal(image.shape), 0.0, 1.0)


@pytest.fixture(scope="session")
def photo_pairs(photos: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(clean, degraded) crops of several sizes, odd ones and a single channel among them."""
    rng = np.random.default_rng(0)
    crops = [(0, 40, 60, 3), (1, 33, 47, 3), (0, 11, 11, 3), (1, 64, 29, 1), (0, 25, 51, 1)]
    pairs = []
    for which, h, w, c in crops:
        top, left = rng.integers(0, photos[which].shape[1] - h), rng.integers(0, photos[which].shape[2] - w)
        clean = photos[which][:c, top : top + h, left : left + w]
        pairs.append((clean, degrade(clean, rng)))
    return pairs
