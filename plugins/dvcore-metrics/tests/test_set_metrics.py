"""FID end to end with the random_conv stand-in, the update/reference contract, and shared feature passes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dvcore_metrics import (
    FID,
    KID,
    FIDOptions,
    InceptionScore,
    InceptionScoreOptions,
    KIDOptions,
    RandomConvFeatures,
    frechet_distance,
    quantize_uint8,
)

STANDIN = {"features": "random_conv", "device": "cpu"}


def smooth_images(n: int, seed: int, shift: float = 0.0, size: int = 16) -> torch.Tensor:
    """Images with some structure: random 4x4 colour fields upsampled to size x size, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 0.6 + 0.2 + shift
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear").clamp(0, 1)


def fid_of(generated: torch.Tensor, real: torch.Tensor, batch: int = 64, **options: object) -> float:
    metric = FID(FIDOptions(**{**STANDIN, **options}))
    for g, r in zip(generated.split(batch), real.split(batch), strict=True):
        assert metric.update(g, r) is None
    return metric.compute()


def test_fid_is_small_for_one_distribution_and_grows_with_a_shift() -> None:
    real = smooth_images(256, 0)
    same = fid_of(smooth_images(256, 1), real)
    shifted = fid_of(smooth_images(256, 2, shift=0.1), real)
    far = fid_of(smooth_images(256, 3, shift=0.3), real)
    assert same < shifted < far
    assert shifted > 10 * same  # measured: same 0.014, shift 0.1: 0.30, shift 0.3: 5.0


def test_fid_metric_equals_the_frechet_distance_of_numpy_mean_and_cov_of_the_features() -> None:
    generated, real = smooth_images(90, 4), smooth_images(70, 5, shift=0.05)
    net = RandomConvFeatures(seed=0).eval()
    with torch.no_grad():  # the stand-in applied by hand, on the 8-bit images the metric sees
        f_gen = net(quantize_uint8(generated)).pool.double().numpy()
        f_real = net(quantize_uint8(real)).pool.double().numpy()
    expected = frechet_distance(
        f_gen.mean(0), np.cov(f_gen, rowvar=False), f_real.mean(0), np.cov(f_real, rowvar=False)
    )
    metric = FID(FIDOptions(**STANDIN, batch_size=16))
    metric.update(generated[:50], real[:30])  # the two sides in different numbers per call
    metric.update(generated[50:], None)
    metric.update(None, real[30:])
    assert (metric.generated.n, metric.real.n) == (90, 70)
    assert metric.compute() == pytest.approx(expected, rel=1e-5)


def test_a_saved_reference_gives_the_same_fid_as_passing_the_real_images(tmp_path: Path) -> None:
    generated, real = smooth_images(80, 6), smooth_images(100, 7, shift=0.1)
    stats = FID(FIDOptions(**STANDIN))  # `dvcore eval stats`: real images only, then save
    for batch in real.split(32):
        stats.update(None, batch)
    stats.save_reference(tmp_path / "ref.npz")
    with_reference = FID(FIDOptions(**STANDIN, reference=str(tmp_path / "ref.npz")))
    with_reference.update(generated, torch.zeros_like(generated))  # target ignored with a reference
    assert with_reference.real.n == 100
    assert with_reference.compute() == pytest.approx(fid_of(generated, real, batch=200), rel=1e-9)
    with_reference.reset()  # forgets the generated images, keeps the reference
    assert math.isnan(with_reference.compute()) and with_reference.real.n == 100
    with pytest.raises(ValueError, match=r"fid: expected generated images \(pred\), got None"):
        with_reference.update(None, real)


def test_a_reference_of_another_feature_network_is_refused(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "inception.npz",
        mu=np.zeros(64),
        sigma=np.eye(64),
        n=10,
        feature_extractor="fid_inception_v3",
    )
    with pytest.raises(
        ValueError, match="holds features of 'fid_inception_v3', but this fid uses 'random_conv'"
    ):
        FID(FIDOptions(**STANDIN, reference=str(tmp_path / "inception.npz")))
    np.savez(tmp_path / "wide.npz", mu=np.zeros(2048), sigma=np.eye(2048))  # pytorch-fid stats, unnamed
    with pytest.raises(ValueError, match=r"expected 64-d features \(random_conv\), got 2048-d"):
        FID(FIDOptions(**STANDIN, reference=str(tmp_path / "wide.npz")))


def test_in_memory_images_score_like_the_same_images_saved_as_8_bit() -> None:
    generated, real = smooth_images(64, 8), smooth_images(64, 9, shift=0.1)
    as_png = (generated * 255).round() / 255
    assert fid_of(generated, real) == fid_of(as_png, real)
    raw = fid_of(generated, real, quantize=False)
    assert raw != fid_of(generated, real) and raw == pytest.approx(fid_of(generated, real), rel=0.05)


def test_grey_images_are_repeated_to_rgb() -> None:
    grey = smooth_images(40, 10)[:, :1]
    metric = FID(FIDOptions(**STANDIN))
    metric.update(grey, grey.expand(-1, 3, -1, -1))
    assert abs(metric.compute()) < 1e-9
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 1 or 3, H, W\], got \[2, 4, 8, 8\]"):
        metric.update(torch.zeros(2, 4, 8, 8), None)


def test_metrics_on_the_same_batch_share_one_feature_pass() -> None:
    fid = FID(FIDOptions(**STANDIN))
    kid = KID(KIDOptions(**STANDIN, subsets=2, subset_size=8))
    score = InceptionScore(InceptionScoreOptions(**STANDIN, splits=2))
    assert fid.extractor is kid.extractor is score.extractor
    calls = []
    hook = fid.extractor.module.register_forward_hook(lambda *_: calls.append(1))
    try:
        batch, real = smooth_images(16, 11), smooth_images(16, 12)
        for metric in (fid, kid, score):
            metric.update(batch, real)
        assert len(calls) == 2  # once for `batch`, once for `real`, not once per metric
        batch.mul_(0.5)  # changed in place: computed afresh
        fid.update(batch, None)
        assert len(calls) == 3
    finally:
        hook.remove()
    assert all(math.isfinite(m.compute()) for m in (fid, kid, score))


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="expected auto, cpu, cuda or cuda:N, got 'gpu'"):
        FIDOptions(device="gpu")
    with pytest.raises(ValueError, match="path does not exist"):
        FIDOptions(reference="/nonexistent/ref.npz")
    with pytest.raises(ValueError, match="expected >= 2, got 1"):
        KIDOptions(subset_size=1)
