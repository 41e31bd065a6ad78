"""Every metric of this plugin passes dvcore's conformance kit, through its registration."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component


@pytest.mark.parametrize("name", ["psnr", "psnr_uint8", "ssim"])
def test_per_image_metric_passes_the_kit(name: str):
    check_component("metric", name)


@pytest.mark.parametrize(
    ("name", "options"),
    [("fid", {}), ("kid", {"subsets": 4, "subset_size": 2}), ("inception_score", {"splits": 1})],
)
def test_set_metric_passes_the_kit(name: str, options: dict):
    from dvcore.plugins import registry

    component = registry().get("metric", name)
    check_component("metric", name, component.options(features="random_conv", **options))
