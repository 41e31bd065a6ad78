"""The plugin registers ``unet`` through the dvcore entry point (needs the editable install)."""

from __future__ import annotations

import torch

from dvcore.plugins import load
from dvcore_unet import UNet, UNetOptions, build_unet


def test_unet_registers_through_the_entry_point_with_its_origin() -> None:
    plugins = load()
    component = plugins.registry.get("backbone", "unet")
    assert (component.origin, component.version) == ("dvcore-unet", "0.1.0")
    assert (component.factory, component.options) == (build_unet, UNetOptions)
    assert component.doc and "\n" not in component.doc  # the one line `dvcore plugins` shows
    assert not [f for f in plugins.failures if f.distribution == "dvcore-unet"]


def test_the_registered_factory_builds_a_backbone_for_the_tasks_channels() -> None:
    component = load().registry.get("backbone", "unet")
    options = UNetOptions(base_channels=8, channel_mult=[1, 2], norm_groups=4, attention_factors=[2])
    model = component.build(options, in_channels=9, out_channels=3)
    assert isinstance(model, UNet)
    assert model(torch.randn(2, 9, 8, 8), torch.zeros(2)).shape == (2, 3, 8, 8)
