"""PSNR against scikit-image, image by image and accumulated over batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvcore_metrics import PSNR, PSNROptions, PSNRUint8Options, psnr, quantize_uint8

metrics = pytest.importorskip("skimage.metrics")

SIZES = [(2, 3, 16, 16), (3, 3, 17, 23), (2, 1, 9, 31), (1, 4, 5, 3)]


def skimage_psnr(pred: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """skimage's PSNR of each image of a batch [B, C, H, W] -> [B]."""
    pairs = zip(pred, target, strict=True)
    return np.array([metrics.peak_signal_noise_ratio(t, p, data_range=data_range) for p, t in pairs])


@pytest.mark.parametrize("shape", SIZES)
def test_psnr_matches_skimage_on_random_images(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    target = rng.random(shape)
    pred = np.clip(target + 0.1 * rng.standard_normal(shape), 0, 1)
    ours = psnr(torch.from_numpy(pred), torch.from_numpy(target))
    assert ours.dtype == torch.float64 and ours.shape == (shape[0],)
    np.testing.assert_allclose(ours.numpy(), skimage_psnr(pred, target), rtol=0, atol=1e-4)


def test_psnr_matches_skimage_on_photos(photo_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for clean, degraded in photo_pairs:
        ours = psnr(torch.from_numpy(degraded[None]), torch.from_numpy(clean[None]))
        theirs = metrics.peak_signal_noise_ratio(clean, degraded, data_range=1)
        assert 15 < theirs < 45  # a realistic degradation, not a degenerate case
        assert ours.item() == pytest.approx(theirs, abs=1e-4)


def test_psnr_accepts_float32_and_computes_in_float64(
    photo_pairs: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    clean, degraded = photo_pairs[0]
    ours = psnr(torch.from_numpy(degraded[None]).float(), torch.from_numpy(clean[None]).float())
    theirs = metrics.peak_signal_noise_ratio(
        clean.astype(np.float32), degraded.astype(np.float32), data_range=1
    )
    assert ours.dtype == torch.float64
    assert ours.item() == pytest.approx(theirs, abs=1e-4)


@pytest.mark.parametrize("shape", SIZES)
def test_psnr_uint8_matches_skimage_on_uint8_arrays(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(100 + sum(shape))
    target8 = rng.integers(0, 256, shape, dtype=np.uint8)
    pred8 = np.clip(target8.astype(int) + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)
    # Float images that round back to those uint8 levels (offsets under half a level).
    pred = pred8 / 255.0 + rng.uniform(-0.45, 0.45, shape) / 255.0
    target = target8 / 255.0 + rng.uniform(-0.45, 0.45, shape) / 255.0
    ours = psnr(torch.from_numpy(pred), torch.from_numpy(target), quantize=True)
    np.testing.assert_allclose(ours.numpy(), skimage_psnr(pred8, target8, data_range=255), rtol=0, atol=1e-4)
    # The float variant sees the sub-level offsets, so it differs.
    assert not torch.allclose(psnr(torch.from_numpy(pred), torch.from_numpy(target)), ours, atol=1e-4)


def test_quantize_rounds_to_uint8_levels_and_clamps() -> None:
    x = torch.tensor([-0.2, 0.0, 0.4 / 255, 0.6 / 255, 127.5 / 255, 1.0, 1.3], dtype=torch.float64)
    levels = quantize_uint8(x) * 255
    assert levels.tolist() == pytest.approx([0, 0, 0, 1, 128, 255, 255])


def test_float_psnr_does_not_clamp_out_of_range_predictions() -> None:
    target = torch.full((1, 1, 4, 4), 0.8, dtype=torch.float64)  # uint8 level 204
    pred = torch.full((1, 1, 4, 4), 1.2, dtype=torch.float64)  # overshoots the range by 0.2
    assert psnr(pred, target).item() == pytest.approx(10 * math.log10(1 / 0.4**2))
    # Only the uint8 variant clamps, to level 255.
    assert psnr(pred, target, quantize=True).item() == pytest.approx(10 * math.log10(1 / (51 / 255) ** 2))


def test_identical_images_give_infinite_psnr_like_skimage() -> None:
    image = np.random.default_rng(0).random((2, 3, 8, 8))
    ours = psnr(torch.from_numpy(image), torch.from_numpy(image))
    with np.errstate(divide="ignore"):
        theirs = metrics.peak_signal_noise_ratio(image[0], image[0], data_range=1)
    assert theirs == math.inf
    assert torch.isinf(ours).all() and (ours > 0).all()
    metric = PSNR()
    metric.update(torch.from_numpy(image), torch.from_numpy(image))
    assert metric.compute() == math.inf


def test_metric_accumulates_the_mean_over_all_images() -> None:
    rng = np.random.default_rng(3)
    batches = [(rng.random((b, 3, 12, 10)), rng.random((b, 3, 12, 10))) for b in (3, 1, 4)]
    for options in (PSNROptions(), PSNRUint8Options()):
        metric = PSNR(options)
        returned = [metric.update(torch.from_numpy(p), torch.from_numpy(t)) for p, t in batches]
        assert [r.shape for r in returned] == [(3,), (1,), (4,)]
        preds = np.concatenate([p for p, _ in batches])
        targets = np.concatenate([t for _, t in batches])
        if options.quantize:
            preds, targets = np.round(preds * 255).astype(np.uint8), np.round(targets * 255).astype(np.uint8)
        expected = skimage_psnr(preds, targets, data_range=255 if options.quantize else 1).mean()
        assert metric.compute() == pytest.approx(expected, abs=1e-4)
        metric.reset()
        assert math.isnan(metric.compute())


def test_metric_names_follow_the_variant() -> None:
    assert (PSNR().name, PSNR(PSNRUint8Options()).name) == ("psnr", "psnr_uint8")
    assert PSNR().higher_is_better


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"expected target of pred's shape \[1, 3, 4, 4\], got \[1, 3, 4, 5\]"
    ):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected pred of shape \[B, C, H, W\], got \[3, 4, 4\]"):
        psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4))
