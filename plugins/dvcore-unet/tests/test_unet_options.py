"""The ``unet`` options: the lab notes' schema (docs/lab_notes.md §G9) validates through the recipe loader,
broken
variants give one message per problem with its field path, the compact form expands."""

from __future__ import annotations

import tomllib
from typing import Any

import attrs
import pytest

from dvcore.errors import RecipeError
from dvcore.recipe import BackboneSection, structure
from dvcore.registry import Registrar, Registry
from dvcore_unet import NOTES_256_SCHEMA, UNetOptions, expand_compact, plugin

# The §G9 lines in TOML (`=` for `:`, lowercase booleans), comments kept.
SEED_TOML = """
[model]
name = "unet"
channels = [64, 128, 256, 512, 1024]
down_attn = [false, false, false, true]  # for img_size : [256,256], attn at 32x32
down_channel_indices = [[0,0], [0,1], [1,2], [2,3]] # in, out indices into channels[] for each down layer
mid_attn = [false, true, false] # for img_size : [256,256], attn at 16x6
mid_channel_indices = [[3,4], [4,4], [4,3]] # in, out indices into channels[] for each mid layer
up_attn = [true, false, false] # for img_size : [256,256], attn at 32x32
up_channel_indices = [[3,2], [2,1], [1,0]] # in, out indices into channels[] for each up layer
"""


@attrs.frozen
class OneModel:
    """A recipe cut down to its model section."""

    model: BackboneSection


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry()
    plugin.dvcore_register_components(Registrar(registry, "dvcore-unet", "0.1.0"))
    return registry


def problems_of(registry: Registry, **model: Any) -> list[str]:
    try:
        structure({"model": {"name": "unet", **model}}, registry, cls=OneModel)
    except RecipeError as exc:
        return exc.problems
    return []


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**NOTES_256_SCHEMA, **changes}


def test_the_seeds_schema_loads_from_toml_without_problems(registry: Registry) -> None:
    data = tomllib.loads(SEED_TOML)
    loaded = structure(data, registry, cls=OneModel).model.options
    assert loaded == UNetOptions(**NOTES_256_SCHEMA)
    assert loaded.num_downsamplings == 4


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"down_channel_indices": [[0, 0], [0, 2], [1, 2], [2, 3]]},
            [
                "model.down_channel_indices[2]: input index 1 does not match "
                "the previous level's output index 2"
            ],
        ),
        (
            {"down_attn": [False, False, True]},
            ["model.down_attn: expected 4 entries (one per level of down_channel_indices), got 3"],
        ),
        (
            {"mid_channel_indices": [[3, 5], [4, 4], [4, 3]]},
            ["model.mid_channel_indices[0]: expected indices into channels (0..4), got 5"],
        ),
        (
            {"mid_channel_indices": [[3, 4], [4, 4, 4], [4, 3]]},
            ["model.mid_channel_indices[1]: expected [input, output] indices, got 3 numbers"],
        ),
        (
            {"mid_channel_indices": [[3, 4], [4, 4], [4, 2]]},
            ["model.up_channel_indices[0]: input index 3 does not match the previous level's output index 2"],
        ),
        (
            {"up_attn": [True, False], "up_channel_indices": [[3, 2], [2, 1]]},
            ["model.up_channel_indices: expected 3 levels (mirroring down levels 3..1), got 2"],
        ),
        (
            {"up_channel_indices": [[3, 1], [1, 1], [1, 0]]},
            [
                "model.up_channel_indices[0]: expected output index 2 (the input index of the mirrored "
                "down_channel_indices[3]), got 1"
            ],
        ),
        (
            {"channels": [64, 128, 248, 512, 1024]},
            ["model.channels[2]: expected a multiple of norm_groups = 32, got 248"],
        ),
        (
            {"attn_heads": 3},
            [
                "model.down_attn[3]: expected a width divisible by attn_heads = 3, got 512 (channels[3])",
                "model.mid_attn[1]: expected a width divisible by attn_heads = 3, got 1024 (channels[4])",
                "model.up_attn[0]: expected a width divisible by attn_heads = 3, got 256 (channels[2])",
            ],
        ),
    ],
)
def test_a_broken_schema_gives_one_message_per_problem(
    registry: Registry, changes: dict[str, Any], expected: list[str]
) -> None:
    assert problems_of(registry, **with_changes(**changes)) == expected


def test_every_problem_is_reported_at_once(registry: Registry) -> None:
    broken = with_changes(
        down_channel_indices=[[0, 0], [0, 2], [1, 2], [2, 3]], mid_attn=[True], res_dropout_mode="Channel"
    )
    assert problems_of(registry, **broken) == [
        "model.down_channel_indices[2]: input index 1 does not match the previous level's output index 2",
        "model.mid_attn: expected 3 entries (one per level of mid_channel_indices), got 1",
        "model.res_dropout_mode: expected one of 'element', 'channel', got 'Channel' "
        "(did you mean 'channel'?)",
    ]


def test_wrong_types_in_the_schema_are_reported_per_item(registry: Registry) -> None:
    found = problems_of(
        registry, **with_changes(down_attn=[0, 0, 0, 1], up_channel_indices=[[3, 2], [2, "1"], [1, 0]])
    )
    expected = [f"model.down_attn[{i}]: expected bool, got {v}" for i, v in enumerate([0, 0, 0, 1])]
    assert {*expected, "model.up_channel_indices[1][1]: expected int, got '1'"} <= set(found)


def test_only_one_form_may_be_given(registry: Registry) -> None:
    assert problems_of(registry, **with_changes(base_channels=32)) == [
        "model.base_channels: not allowed with the explicit schema "
        "(channels, down_attn, down_channel_indices, "
        "mid_attn, mid_channel_indices, up_attn, up_channel_indices given); use one form"
    ]
    missing = problems_of(registry, channels=[32, 64])
    assert missing == [
        f"model.{name}: required by the explicit schema (channels given), but missing"
        for name in ("down_attn", "down_channel_indices", "mid_attn", "mid_channel_indices", "up_attn")
    ] + ["model.up_channel_indices: required by the explicit schema (channels given), but missing"]


def test_the_default_compact_form_expands_to_the_seeds_schema(registry: Registry) -> None:
    options = structure({"model": {"name": "unet"}}, registry, cls=OneModel).model.options
    assert options.expand() == UNetOptions(**NOTES_256_SCHEMA)
    assert UNetOptions(**NOTES_256_SCHEMA).expand() == UNetOptions(**NOTES_256_SCHEMA)  # explicit: unchanged


def test_compact_form_expands_level_by_level() -> None:
    assert expand_compact(32, [1, 2, 2], [4]) == {
        "channels": [32, 64, 64],
        "down_attn": [False, False],
        "down_channel_indices": [[0, 0], [0, 1]],
        "mid_attn": [False, True, False],
        "mid_channel_indices": [[1, 2], [2, 2], [2, 1]],
        "up_attn": [False],
        "up_channel_indices": [[1, 0]],
    }
    assert expand_compact(16, [1, 4], [1])["up_channel_indices"] == []
    options = UNetOptions(
        base_channels=32, channel_mult=[1, 2, 3, 4], attention_factors=[2, 8], norm_groups=8
    )
    expanded = options.expand()
    assert list(expanded.problems()) == []
    assert (expanded.base_channels, expanded.channel_mult, expanded.attention_factors) == (None, None, None)
    assert (expanded.down_attn, expanded.mid_attn, expanded.up_attn) == (
        [False, True, False],
        [False, True, False],
        [False, True],
    )
    assert expanded.norm_groups == 8 and options.num_downsamplings == 3


def test_compact_form_problems_name_the_compact_fields(registry: Registry) -> None:
    assert problems_of(registry, attention_factors=[8, 32]) == [
        "model.attention_factors[1]: expected one of 1, 2, 4, 8, 16 "
        "(the levels' downsampling factors), got 32"
    ]
    assert problems_of(registry, channel_mult=[4]) == [
        "model.channel_mult: expected at least 2 entries (one down level and the middle), got 1"
    ]
    assert problems_of(
        registry, base_channels=48
    ) == [  # 48 x [1, 2, 4, 8, 16]: only 48 is not a multiple of 32
        "model.channel_mult: in the expanded schema, channels[0]: "
        "expected a multiple of norm_groups = 32, got 48"
    ]
    assert problems_of(registry, base_channels=32, attn_head_dim=48, norm_groups=16)[0] == (
        "model.attention_factors: in the expanded schema, down_attn[3]: expected a width divisible by "
        "attn_head_dim = 48, got 256 (channels[3])"
    )
