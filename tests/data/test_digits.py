"""The digits dataset: scikit-learn's 8x8 digits, upsampled, split by position, no download."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.data.digits import DigitsOptions, build_digits, split_range
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)


def test_splits_are_disjoint_cover_every_image_and_put_the_last_tenth_in_eval():
    train = build_digits(DigitsOptions(), split="train", seed=0)
    evals = build_digits(DigitsOptions(), split="eval", seed=0)
    assert (len(train), len(evals)) == (1617, 180)
    indices = [*split_range(DigitsOptions(), "train"), *split_range(DigitsOptions(), "eval")]
    assert indices == list(range(1797))
    assert torch.equal(evals.labels, torch.from_numpy(load_digits().target[-180:]))
    assert set(evals.labels.tolist()) == set(range(10))  # every digit is in the last tenth


def test_nearest_upsampling_keeps_the_original_pixels():
    evals = build_digits(DigitsOptions(size=16, resize="nearest"), split="eval", seed=0)
    raw = torch.from_numpy(load_digits().images[-180:] / 16.0).float()  # (180, 8, 8) reference
    image = evals[3]["image"]  # (1, 16, 16)
    assert torch.equal(image[0, ::2, ::2], raw[3]) and torch.equal(image[0, 1::2, 1::2], raw[3])


@pytest.mark.parametrize(("size", "channels"), [(8, 1), (16, 1), (32, 3)])
def test_images_are_float_in_the_unit_range_with_the_asked_shape(size, channels):
    data = build_digits(DigitsOptions(size=size, channels=channels), split="train", seed=0)
    image = data[0]["image"]
    assert image.shape == (channels, size, size) and image.dtype == torch.float32
    assert float(data.images.min()) == 0.0 and float(data.images.max()) <= 1.0
    if size == 8:
        np.testing.assert_array_equal(image[0].numpy(), (load_digits().images[0] / 16.0).astype(np.float32))
    if channels == 3:
        assert torch.equal(image[0], image[2])


def test_bilinear_upsampling_keeps_the_mean_brightness():
    small = build_digits(DigitsOptions(size=8), split="eval", seed=0).images
    large = build_digits(DigitsOptions(size=32), split="eval", seed=0).images
    # Half-pixel bilinear resampling by 4 averages back to within the border effect.
    assert float(large.mean()) == pytest.approx(float(small.mean()), rel=0.05)


def test_the_split_is_the_same_whatever_the_seed_and_the_build():
    a = build_digits(DigitsOptions(eval_fraction=0.2), split="eval", seed=0)
    b = build_digits(DigitsOptions(eval_fraction=0.2), split="eval", seed=7)
    assert len(a) == 360 and torch.equal(a.images, b.images)
    assert a[-1]["image"].shape == (1, 16, 16)
    with pytest.raises(IndexError):
        a[360]


def test_digits_is_a_registered_dataset_with_checked_options(fresh_plugins):
    registry = plugins.load().registry
    component = registry.get("dataset", "digits")
    assert component.origin == "dvcore"
    with pytest.raises(recipes.RecipeError) as info:
        recipes.structure(
            {"experiment": "x", "task": "generate", "data": {"name": "digits", "size": 24}, "model": "x"},
            registry,
        )
    assert any(
        line.startswith("data.size: expected one of 8, 16, 32, got 24") for line in info.value.problems
    )
