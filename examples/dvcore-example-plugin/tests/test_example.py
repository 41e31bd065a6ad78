"""The example plugin's components meet dvcore's contracts (dvcore.testing), as registered by its entry point.

These tests use the installed distribution: run them after `pip install .` (tox -e example does).
"""

from __future__ import annotations

from pathlib import Path

import torch
from dvcore_example.data import build_drift
from dvcore_example.options import ConvNetOptions, DriftOptions

from dvcore.testing import check_component, check_task

RECIPE = Path(__file__).parents[1] / "recipes" / "example.toml"
SMALL = ("tracker.name='none'", "data.num_train=8", "data.num_eval=4")


def test_convnet_meets_the_backbone_contract():
    check_component("backbone", "example_convnet", ConvNetOptions(width=8), in_channels=9, out_channels=3)


def test_drift_meets_the_dataset_contract():
    check_component("dataset", "example_drift", DriftOptions(size=16, num_train=8, num_eval=4))


def test_mae_meets_the_metric_contract():
    check_component("metric", "example_mae")


def test_extrapolate_meets_the_task_contract():
    check_task(RECIPE, overrides=SMALL)


def test_drift_moves_the_field_by_a_constant_step():
    frames = build_drift(DriftOptions(size=32, num_frames=3, speed=1.0), split="eval", seed=0)[0]["frames"]
    step1 = (frames[1] - frames[0]).abs().mean()
    step2 = (frames[2] - frames[1]).abs().mean()
    assert step1 > 0 and torch.isclose(step1, step2, rtol=0.3)  # moving, at a steady speed


def test_extrapolate_makes_movie_frames(tmp_path):
    from dvcore.api import MakesMovieFrames
    from dvcore.plugins import registry
    from dvcore.recipe import load

    recipe = load(RECIPE, SMALL)
    task = (
        registry()
        .get("task", recipe.task.name)
        .build(recipe.task.options, recipe=recipe, registry=registry())
    )
    model = (
        registry()
        .get("backbone", recipe.model.name)
        .build(recipe.model.options, in_channels=9, out_channels=3)
    )
    frames = task.movie_frames(model, num=2, sampler=None, num_steps=None, seed=0, scale=2)
    assert isinstance(task, MakesMovieFrames)
    assert (
        len(frames) == 4
        and frames[0].shape == (2 * 2 * 16, 2 * 2 * 16, 3)
        and frames[0].dtype.name == "uint8"
    )
