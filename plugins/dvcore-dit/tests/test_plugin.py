"""The installed distribution registers the dit backbone through the dvcore entry point."""

from __future__ import annotations

import torch

from dvcore.plugins import load
from dvcore_dit.model import DiT
from dvcore_dit.options import DitOptions


def test_dit_is_registered_by_the_dvcore_dit_distribution():
    component = load(strict=False).registry.get("backbone", "dit")
    assert component.origin == "dvcore-dit"
    assert component.version == "0.1.0"
    assert component.options is DitOptions
    assert component.doc


def test_the_registered_factory_builds_a_backbone_for_the_tasks_channels():
    component = load(strict=False).registry.get("backbone", "dit")
    options = DitOptions(size="custom", depth=1, hidden_size=32, num_heads=2, patch=2)
    model = component.build(options, in_channels=9, out_channels=3)
    assert isinstance(model, DiT)
    assert model(torch.randn(2, 9, 8, 8), torch.tensor([0.0, 1.0])).shape == (2, 3, 8, 8)
