"""moving_shapes: deterministic, disjoint splits, sub-pixel motion, and hard for a naive blend."""

from __future__ import annotations

import math

import attrs
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from dvcore.data.moving_shapes import (
    SHAPE_KINDS,
    MovingShapesOptions,
    baseline_psnr,
    build_moving_shapes,
    clip_seed,
    render_shapes,
    sample_scene,
)
from dvcore.errors import RecipeError
from dvcore.recipe import DatasetSection, structure
from dvcore.registry import Component, Registry
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)

SMALL = MovingShapesOptions(size=16, num_train=64, num_eval=64)


def frames(options: MovingShapesOptions, split: str, seed: int, index: int) -> torch.Tensor:
    return build_moving_shapes(options, split=split, seed=seed)[index]["frames"]


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------


def test_clip_is_float32_in_unit_range_with_frames_channels_height_width():
    options = MovingShapesOptions(height=16, width=24, num_frames=7)
    clip = frames(options, "train", 0, 3)
    assert clip.shape == (7, 3, 16, 24)
    assert clip.dtype == torch.float32
    assert float(clip.min()) >= 0.0 and float(clip.max()) <= 1.0
    assert frames(MovingShapesOptions(size=20), "eval", 0, 0).shape == (5, 3, 20, 20)


def test_length_is_num_train_or_num_eval_per_split():
    options = MovingShapesOptions(size=16, num_train=7, num_eval=3)
    train = build_moving_shapes(options, split="train", seed=0)
    evaluation = build_moving_shapes(options, split="eval", seed=0)
    assert (len(train), len(evaluation)) == (7, 3)
    assert torch.equal(evaluation[-1]["frames"], evaluation[2]["frames"])
    with pytest.raises(IndexError):
        evaluation[3]
    assert len(list(evaluation)) == 3  # iteration stops at the end


def test_unknown_split_raises_value_error_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown split 'test'; valid splits: train, eval"):
        build_moving_shapes(SMALL, split="test", seed=0)


def test_registered_component_builds_with_split_and_seed():
    component = Component("dataset", "moving_shapes", build_moving_shapes, MovingShapesOptions)
    dataset = component.build(SMALL, split="eval", seed=1)
    assert torch.equal(dataset[0]["frames"], frames(SMALL, "eval", 1, 0))


# ----------------------------------------------------------------------------------------------
# Determinism and splits
# ----------------------------------------------------------------------------------------------


def test_same_seed_split_and_index_give_the_same_clip():
    dataset = build_moving_shapes(SMALL, split="train", seed=5)
    again = build_moving_shapes(SMALL, split="train", seed=5)
    for index in (0, 17, 63):
        assert torch.equal(dataset[index]["frames"], dataset[index]["frames"])
        assert torch.equal(dataset[index]["frames"], again[index]["frames"])


def test_different_seeds_or_indices_give_different_clips():
    assert not torch.equal(frames(SMALL, "train", 0, 4), frames(SMALL, "train", 1, 4))
    assert not torch.equal(frames(SMALL, "train", 0, 4), frames(SMALL, "train", 0, 5))
    assert clip_seed(0, "train", 4) != clip_seed(0, "eval", 4)


def test_no_eval_clip_equals_a_train_clip():
    train = torch.stack([c["frames"].flatten() for c in build_moving_shapes(SMALL, split="train", seed=0)])
    evaluation = torch.stack(
        [c["frames"].flatten() for c in build_moving_shapes(SMALL, split="eval", seed=0)]
    )
    distances = torch.cdist(evaluation.double(), train.double())  # (64, 64)
    assert float(distances.min()) > 1.0


# ----------------------------------------------------------------------------------------------
# Motion and rendering
# ----------------------------------------------------------------------------------------------


def test_middle_frame_differs_from_both_neighbours():
    dataset = build_moving_shapes(SMALL, split="eval", seed=0)
    for index in range(16):
        clip = dataset[index]["frames"]
        mid = clip.shape[0] // 2
        assert float((clip[mid] - clip[mid - 1]).abs().mean()) > 1e-3
        assert float((clip[mid] - clip[mid + 1]).abs().mean()) > 1e-3
        assert not all(torch.equal(clip[0], frame) for frame in clip[1:])


def one_shape(kind: str, a: float, b: float, centre: tuple[float, float], velocity: tuple[float, float]):
    """A scene with one shape moving at constant velocity without turning."""
    scene = sample_scene(torch.Generator().manual_seed(0), MovingShapesOptions(max_shapes=1))
    return attrs.evolve(
        scene,
        kind=torch.tensor([SHAPE_KINDS.index(kind)]),
        half_axes=torch.tensor([[a, b]]),
        centre=torch.tensor([centre]),
        velocity=torch.tensor([velocity]),
        acceleration=torch.zeros(1, 2),
        spin=torch.zeros(1),
    )


@pytest.mark.parametrize(
    ("kind", "a", "b", "area", "tolerance"),
    [
        ("circle", 6.0, 6.0, math.pi * 36, 0.01),
        ("ellipse", 8.0, 4.5, math.pi * 8 * 4.5, 0.02),
        ("square", 5.0, 5.0, 100.0, 0.01),
        ("rectangle", 7.0, 3.5, 98.0, 0.01),
        ("triangle", 8.0, 8.0, 3 * math.sqrt(3) / 4 * 64, 0.01),  # circumradius 8
    ],
)
def test_anti_aliased_coverage_integrates_to_the_shape_area_at_every_sub_pixel_offset(
    kind, a, b, area, tolerance
):
    scene = one_shape(kind, a, b, centre=(15.3, 16.1), velocity=(0.3, -0.2))
    t = torch.arange(5.0) - 2
    xs = ys = torch.arange(32.0) + 0.5
    coverage, _ = render_shapes(scene, t, xs, ys)  # (1, 5, 1, 32, 32)
    areas = coverage.sum(dim=(0, 2, 3, 4))  # (5,)
    assert torch.allclose(areas, torch.full_like(areas, area), rtol=tolerance)


def test_coverage_centroid_follows_a_sub_pixel_motion():
    scene = one_shape("circle", 5.0, 5.0, centre=(15.3, 16.1), velocity=(0.3, -0.2))
    t = torch.arange(5.0) - 2
    xs = ys = torch.arange(32.0) + 0.5
    coverage, _ = render_shapes(scene, t, xs, ys)
    weights = coverage[0, :, 0]  # (5, 32, 32)
    cx = (weights * xs).sum(dim=(1, 2)) / weights.sum(dim=(1, 2))
    cy = (weights * ys[:, None]).sum(dim=(1, 2)) / weights.sum(dim=(1, 2))
    assert torch.allclose(cx, 15.3 + 0.3 * t, atol=0.025)
    assert torch.allclose(cy, 16.1 - 0.2 * t, atol=0.025)


def test_slow_motion_changes_each_frame_by_a_similar_amount():
    """A quarter pixel per frame moves the picture evenly, as it would with hard, pixel-snapped edges not."""
    options = MovingShapesOptions(
        size=32, speed=[0.25, 0.25], acceleration=0.0, rotation=0.0, max_shapes=1, background_motion=False
    )
    dataset = build_moving_shapes(options, split="eval", seed=0)
    for index in range(8):
        clip = dataset[index]["frames"]
        steps = (clip[1:] - clip[:-1]).abs().sum(dim=(1, 2, 3))  # (N - 1,)
        assert float(steps.min()) > 0
        assert float(steps.max() / steps.min()) < 1.5


# ----------------------------------------------------------------------------------------------
# Difficulty
# ----------------------------------------------------------------------------------------------


def test_blend_of_the_neighbours_is_far_from_perfect():
    dataset = build_moving_shapes(MovingShapesOptions(), split="eval", seed=0)
    scores = baseline_psnr(dataset, num_clips=40)
    assert scores["blend"] < 35.0
    assert scores["nearest"] < scores["blend"]
    # Against an independent PSNR.
    reference = []
    for index in range(40):
        clip = dataset[index]["frames"].double().numpy()
        reference.append(peak_signal_noise_ratio(clip[2], 0.5 * (clip[1] + clip[3]), data_range=1.0))
    assert scores["blend"] == pytest.approx(sum(reference) / len(reference), abs=1e-6)


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


def test_even_num_frames_is_rejected_by_the_field_validator():
    with pytest.raises(ValueError, match=r"expected an odd number, got 4"):
        MovingShapesOptions(num_frames=4)


def test_recipe_reports_every_bad_option_with_its_path():
    registry = Registry()
    registry.add(Component("dataset", "moving_shapes", build_moving_shapes, MovingShapesOptions))
    section = {"name": "moving_shapes", "num_frames": 4, "speed": [3.0, 1.0], "width": 4, "max_shapes": 0}
    with pytest.raises(RecipeError) as error:
        structure(section, registry, DatasetSection)
    assert sorted(error.value.problems) == [
        "max_shapes: expected >= 1, got 0",
        "num_frames: expected an odd number, got 4",
        "speed: expected min <= max, got [3.0, 1.0]",
        "width: expected >= 8, got 4",
    ]
    with pytest.raises(RecipeError, match=r"speed: expected \[min, max\], got \[1.0\]"):
        structure({"name": "moving_shapes", "speed": [1.0]}, registry, DatasetSection)
    assert structure({"name": "moving_shapes"}, registry, DatasetSection).options == MovingShapesOptions()
