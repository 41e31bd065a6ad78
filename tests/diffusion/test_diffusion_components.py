"""The diffusion components register, build from default options, and report bad options."""

from __future__ import annotations

import attrs
import pytest
import torch

from dvcore.diffusion.components import register
from dvcore.diffusion.losses import DiffusionLoss
from dvcore.diffusion.samplers.base import Sampler
from dvcore.diffusion.schedules import Schedule
from dvcore.registry import Registrar, Registry


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    register(Registrar(registry, "dvcore", "test"))
    return registry


def test_every_component_is_registered_with_its_origin(registry):
    assert registry.names("schedule") == ["cosine", "linear", "scaled_linear", "sigmoid"]
    assert registry.names("sampler") == ["ddim", "ddpm", "dpmsolver++", "euler", "heun"]
    assert registry.names("loss") == ["diffusion"]
    for component in registry:
        assert component.origin == "dvcore" and component.doc, component.name


def test_components_build_from_default_options_and_work_together(registry):
    schedule = registry.get("schedule", "cosine").build()
    assert isinstance(schedule, Schedule) and len(schedule) == 1000
    small = registry.get("schedule", "linear").build(
        registry.get("schedule", "linear").options(num_train_timesteps=100)
    )
    loss = registry.get("loss", "diffusion").build()
    assert isinstance(loss, DiffusionLoss)
    x0 = torch.rand(2, 1, 4, 4) * 2 - 1
    assert loss(lambda x, t: 0 * x, x0, small, generator=torch.Generator().manual_seed(0)).loss > 0
    for name in registry.names("sampler"):
        sampler = registry.get("sampler", name).build()
        assert isinstance(sampler, Sampler)
        out = sampler.sample(lambda x, t: 0.1 * x, torch.randn(2, 1, 4, 4), small, num_steps=5)
        assert out.x0.shape == (2, 1, 4, 4) and torch.isfinite(out.x0).all(), name


def test_options_are_documented_frozen_attrs_classes(registry):
    for component in registry:
        fields = attrs.fields(component.options)
        assert fields, component.name
        for field in fields:
            assert field.metadata.get("doc"), f"{component.kind} {component.name}: {field.name} has no doc"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(component.options(), fields[0].name, None)


def test_options_validate_values(registry):
    with pytest.raises(ValueError, match="expected <= 2, got 3"):
        registry.get("sampler", "dpmsolver++").options(solver_order=3)
    with pytest.raises(ValueError, match="expected > 0, got 0"):
        registry.get("loss", "diffusion").options(min_snr_gamma=0)
