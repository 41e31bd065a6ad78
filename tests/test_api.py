"""The public plugin surface: every name resolves, and the built-in components meet the protocols."""

from __future__ import annotations

from pathlib import Path

import torch

import dvcore.api as api
from dvcore import protocols
from dvcore.plugins import load
from dvcore.track.base import RunInfo


def test_every_public_name_resolves():
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []
    assert isinstance(api.PLUGIN_API_VERSION, str) and api.PLUGIN_API_VERSION.isdigit()


def test_every_protocol_of_the_protocols_module_is_public():
    assert set(protocols.__all__) <= set(api.__all__)


def test_builtin_components_meet_their_kinds_protocol(tmp_path: Path):
    registry = load(strict=False).registry
    schedule = registry.get("schedule", "linear").build(None)
    assert isinstance(schedule, api.Schedule)
    for name in registry.names("sampler"):
        assert isinstance(registry.get("sampler", name).build(None), api.Sampler), name
    diffusion = registry.get("loss", "diffusion").build(None)
    assert isinstance(diffusion, api.DiffusionLoss) and diffusion.kind == "diffusion"
    pixel = registry.get("loss", "pixel").build(None)
    assert isinstance(pixel, api.RegressionLoss) and pixel.kind == "regression"
    run = RunInfo("exp", "run", tmp_path, tmp_path)
    assert isinstance(registry.get("tracker", "none").build(None, run=run), api.Tracker)
    dataset = registry.get("dataset", "moving_shapes").build(None, split="eval", seed=0)
    assert isinstance(dataset, api.Dataset)
    assert dataset[0]["frames"].dtype == torch.float32


def test_a_module_is_a_backbone_by_its_forward():
    class Net(torch.nn.Module):
        def forward(self, x, t):
            return x

    assert isinstance(Net(), api.Backbone)
    assert not isinstance(object(), api.Backbone)
