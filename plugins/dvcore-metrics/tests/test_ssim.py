"""SSIM against scikit-image's reproduction of Wang et al. 2004."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvcore_metrics import SSIM, SSIMOptions, ssim, ssim_map

metrics = pytest.importorskip("skimage.metrics")

SIZES = [(2, 3, 16, 16), (2, 3, 17, 23), (2, 1, 11, 11), (1, 1, 31, 12), (1, 4, 13, 19)]


def skimage_ssim(
    pred: np.ndarray, target: np.ndarray, sigma: float = 1.5, data_range: float = 1.0
) -> np.ndarray:
    """skimage's SSIM (Wang et al. settings) of each image of a batch [B, C, H, W] -> [B]."""
    return np.array(
        [
            metrics.structural_similarity(
                t,
                p,
                gaussian_weights=True,
                sigma=sigma,
                use_sample_covariance=False,
                data_range=data_range,
                channel_axis=0,
            )
            for p, t in zip(pred, target, strict=True)
        ]
    )


@pytest.mark.parametrize("shape", SIZES)
def test_ssim_matches_skimage_on_random_images(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    target = rng.random(shape)
    pred = np.clip(0.7 * target + 0.3 * rng.random(shape), 0, 1)
    ours = ssim(torch.from_numpy(pred), torch.from_numpy(target))
    assert ours.dtype == torch.float64 and ours.shape == (shape[0],)
    np.testing.assert_allclose(ours.numpy(), skimage_ssim(pred, target), rtol=0, atol=1e-4)


def test_ssim_matches_skimage_on_photos(photo_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for clean, degraded in photo_pairs:
        ours = ssim(torch.from_numpy(degraded[None]), torch.from_numpy(clean[None]))
        theirs = skimage_ssim(degraded[None], clean[None])
        assert 0.2 < theirs[0] < 0.99  # a realistic degradation, not a degenerate case
        assert ours.item() == pytest.approx(theirs[0], abs=1e-4)


def test_ssim_of_a_batch_equals_ssim_of_each_image(photo_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    clean, degraded = photo_pairs[0]
    rng = np.random.default_rng(1)
    preds = np.stack([degraded, np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1), clean])
    targets = np.stack([clean, clean, clean])
    ours = ssim(torch.from_numpy(preds), torch.from_numpy(targets))
    np.testing.assert_allclose(ours.numpy(), skimage_ssim(preds, targets), rtol=0, atol=1e-4)
    assert ours[2].item() == pytest.approx(1.0, abs=1e-12)


def test_ssim_accepts_float32(photo_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    clean, degraded = photo_pairs[1]
    ours = ssim(torch.from_numpy(degraded[None]).float(), torch.from_numpy(clean[None]).float())
    assert ours.item() == pytest.approx(skimage_ssim(degraded[None], clean[None])[0], abs=1e-4)


def test_ssim_with_another_sigma_matches_skimage_window_and_crop() -> None:
    rng = np.random.default_rng(7)
    target = rng.random((2, 2, 14, 15))
    pred = np.clip(target + 0.2 * rng.standard_normal(target.shape), 0, 1)
    ours = ssim(torch.from_numpy(pred), torch.from_numpy(target), sigma=1.0)  # 9-tap window, crop 4
    np.testing.assert_allclose(ours.numpy(), skimage_ssim(pred, target, sigma=1.0), rtol=0, atol=1e-4)
    assert ssim_map(torch.from_numpy(pred), torch.from_numpy(target), sigma=1.0).shape == (2, 2, 6, 7)


def test_ssim_on_uint8_levels_matches_skimage_with_data_range_255() -> None:
    rng = np.random.default_rng(8)
    target8 = rng.integers(0, 256, (2, 3, 15, 13), dtype=np.uint8)
    pred8 = np.clip(target8.astype(int) + rng.integers(-30, 31, target8.shape), 0, 255).astype(np.uint8)
    ours = ssim(torch.from_numpy(pred8 / 255.0), torch.from_numpy(target8 / 255.0))
    np.testing.assert_allclose(ours.numpy(), skimage_ssim(pred8, target8, data_range=255), rtol=0, atol=1e-4)


def test_valid_region_drops_a_five_pixel_border() -> None:
    x = torch.rand(1, 2, 20, 27, dtype=torch.float64)
    assert ssim_map(x, x.flip(-1)).shape == (1, 2, 10, 17)


def test_identical_images_give_ssim_one() -> None:
    image = torch.rand(3, 3, 12, 16, dtype=torch.float64)
    np.testing.assert_allclose(ssim(image, image).numpy(), 1.0, rtol=0, atol=1e-12)
    flat = torch.full((1, 1, 11, 11), 0.5, dtype=torch.float64)
    assert ssim(flat, flat).item() == pytest.approx(1.0, abs=1e-12)


def test_metric_accumulates_the_mean_over_all_images() -> None:
    rng = np.random.default_rng(4)
    batches = [(rng.random((b, 3, 13, 12)), rng.random((b, 3, 13, 12))) for b in (2, 1, 3)]
    metric = SSIM()
    for p, t in batches:
        assert metric.update(torch.from_numpy(p), torch.from_numpy(t)).shape == (p.shape[0],)
    preds = np.concatenate([p for p, _ in batches])
    targets = np.concatenate([t for _, t in batches])
    assert metric.compute() == pytest.approx(skimage_ssim(preds, targets).mean(), abs=1e-4)
    assert (metric.name, metric.higher_is_better) == ("ssim", True)
    metric.reset()
    assert math.isnan(metric.compute())


def test_metric_uses_its_options() -> None:
    rng = np.random.default_rng(5)
    pred, target = rng.random((1, 1, 12, 12)), rng.random((1, 1, 12, 12))
    metric = SSIM(SSIMOptions(sigma=1.0))
    values = metric.update(torch.from_numpy(pred), torch.from_numpy(target))
    assert values.item() == pytest.approx(skimage_ssim(pred, target, sigma=1.0)[0], abs=1e-4)


def test_images_smaller_than_the_window_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"expected images of at least 11x11 for sigma 1\.5, got 10x12"):
        ssim(torch.zeros(1, 1, 10, 12), torch.zeros(1, 1, 10, 12))


def test_sigma_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"expected > 0, got 0\.0"):
        SSIMOptions(sigma=0.0)


def test_ssim_function_is_differentiable_for_use_as_a_loss() -> None:
    target = torch.rand(1, 1, 11, 12, dtype=torch.float64)
    pred = torch.rand(1, 1, 11, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: ssim(p, target), (pred,), fast_mode=True)
