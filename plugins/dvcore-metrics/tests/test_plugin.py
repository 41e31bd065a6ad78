"""The plugin registers its metrics through the dvcore entry point."""

from __future__ import annotations

import pytest
import torch

import dvcore.plugins
import dvcore_metrics as dm
from dvcore.metrics import MeanMetric, Metric
from dvcore.registry import Registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return dvcore.plugins.load().registry


def test_metrics_register_through_the_entry_point(registry: Registry) -> None:
    for name, options, cls in [
        ("psnr", dm.PSNROptions, dm.PSNR),
        ("psnr_uint8", dm.PSNRUint8Options, dm.PSNR),
        ("ssim", dm.SSIMOptions, dm.SSIM),
        ("fid", dm.FIDOptions, dm.FID),
        ("kid", dm.KIDOptions, dm.KID),
        ("inception_score", dm.InceptionScoreOptions, dm.InceptionScore),
    ]:
        component = registry.get("metric", name)
        assert (component.origin, component.options, component.factory) == ("dvcore-metrics", options, cls)


def test_registered_metrics_build_with_default_options(registry: Registry) -> None:
    built = {name: registry.get("metric", name).build() for name in ("psnr", "psnr_uint8", "ssim")}
    assert {name: m.name for name, m in built.items()} == {n: n for n in built}
    assert all(isinstance(m, MeanMetric) and m.higher_is_better for m in built.values())
    assert (built["psnr"].options.quantize, built["psnr_uint8"].options.quantize) == (False, True)
    x = torch.rand(2, 3, 16, 16)
    for metric in built.values():
        assert metric.update(x, (x + 0.05).clamp(0, 1)).shape == (2,)


def test_set_level_metrics_build_from_the_registry_and_follow_the_core_contract(registry: Registry) -> None:
    """What `dvcore eval` does: build by name, update(generated, real or None), compute, save_reference."""
    real, generated = torch.rand(12, 3, 16, 16), torch.rand(12, 3, 16, 16) * 0.5
    for name in ("fid", "kid", "inception_score"):
        component = registry.get("metric", name)
        metric = component.build(component.options(features="random_conv", device="cpu"))
        assert isinstance(metric, Metric) and metric.name == name
        assert metric.update(generated, real) is None
        score = metric.compute()
        assert isinstance(score, float) and score == score  # not NaN
        assert metric.higher_is_better == (name == "inception_score")
        assert metric.uses_reference == (name != "inception_score")
