"""The dit options: presets, overrides, and every bad value reported the way recipes report it."""

from __future__ import annotations

import pytest

from dvcore.errors import RecipeError
from dvcore.recipe import BackboneSection, structure
from dvcore.registry import Registrar, Registry
from dvcore_dit import plugin
from dvcore_dit.options import DitOptions
from dvcore_dit.plugin import build_dit


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry()
    plugin.dvcore_register_components(Registrar(registry, "dvcore-dit", "0.1.0"))
    return registry


def problems_of(section: dict, registry: Registry) -> list[str]:
    with pytest.raises(RecipeError) as info:
        structure(section, registry, cls=BackboneSection)
    return info.value.problems


@pytest.mark.parametrize(
    ("size", "dims"),
    [("S", (12, 384, 6)), ("B", (12, 768, 12)), ("L", (24, 1024, 16)), ("XL", (28, 1152, 16))],
)
def test_presets_are_the_papers_depth_width_heads(size, dims):
    assert DitOptions(size=size).dims == dims


def test_defaults_are_dit_b4():
    options = DitOptions()
    assert (options.size, options.patch, options.mlp_ratio, options.variant) == ("B", 4, 4.0, "DiT-B/4")


def test_an_explicit_dimension_overrides_only_that_value_of_the_preset():
    options = DitOptions(size="S", depth=6)
    assert options.dims == (6, 384, 6)
    assert options.variant == "DiT-custom/4"


def test_custom_size_uses_the_explicit_dimensions(registry):
    section = structure(
        {"name": "dit", "size": "custom", "depth": 3, "hidden_size": 64, "num_heads": 4, "patch": 2},
        registry,
        cls=BackboneSection,
    )
    assert section.options.dims == (3, 64, 4)


def test_custom_size_without_dimensions_names_each_missing_one(registry):
    assert problems_of({"name": "dit", "size": "custom", "depth": 2}, registry) == [
        "hidden_size: expected an int when size = 'custom', got nothing",
        "num_heads: expected an int when size = 'custom', got nothing",
    ]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"size": "Q"}, "size: expected one of 'S', 'B', 'L', 'XL', 'custom', got 'Q'"),
        ({"patch": 3}, "patch: expected one of 2, 4, 8, got 3"),
        ({"hidden_size": 1000}, "hidden_size: expected a multiple of num_heads (12), got 1000"),
        ({"num_heads": 7}, "num_heads: expected a divisor of hidden_size (768, from size 'B'), got 7"),
        (
            {"size": "custom", "depth": 1, "hidden_size": 30, "num_heads": 3},
            "hidden_size: expected a multiple of 4",
        ),
        ({"num_heads": 0}, "num_heads: expected > 0, got 0"),
        ({"dropout": 1.0}, "dropout: expected < 1, got 1.0"),
        ({"depth": "six"}, "depth: expected int, got 'six'"),
    ],
)
def test_bad_options_are_reported_with_their_field(registry, section, problem):
    problems = problems_of({"name": "dit", **section}, registry)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_direct_construction_validates_choices():
    with pytest.raises(ValueError, match="expected one of 2, 4, 8, got 3"):
        DitOptions(patch=3)
    with pytest.raises(ValueError, match="got 'Q'"):
        DitOptions(size="Q")


def test_the_factory_refuses_inconsistent_options():
    with pytest.raises(ValueError, match=r"num_heads: expected a divisor of hidden_size \(384"):
        build_dit(DitOptions(size="S", num_heads=5), in_channels=3, out_channels=3)
