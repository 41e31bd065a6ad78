"""Interpolation evaluation scores the registry's baselines beside the model, a plugin's included."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from dvcore import recipe as recipes
from dvcore.baselines import middle_frame
from dvcore.hookspecs import hookimpl
from dvcore.plugins import load
from dvcore.registry import NoOptions
from dvcore.tasks.interpolate import split_clip


class Zeros(nn.Module):
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :3])


def _dark_plugin() -> types.ModuleType:
    """A third-party baseline: predicts a black frame."""
    module = types.ModuleType("dark_baseline")

    @hookimpl
    def dvcore_register_components(registrar):
        registrar.add(
            "baseline", "dark", lambda _o: lambda context: torch.zeros_like(context[:, 0]), NoOptions
        )

    module.dvcore_register_components = dvcore_register_components
    return module


def _task(tiny_recipe, baselines_line: str, registry):
    tiny_recipe.write_text(tiny_recipe.read_text().replace('baselines = ["copy", "blend"]', baselines_line))
    recipe = recipes.load(tiny_recipe, [], registry)
    return registry.get("task", "interpolate").build(recipe.task.options, recipe=recipe, registry=registry)


def test_unset_baselines_score_copy_blend_and_flow(testplug, tiny_recipe):
    registry = load().registry
    task = _task(tiny_recipe, "", registry)
    clips = torch.stack([task.datasets()["eval"][i]["frames"] for i in range(4)])  # (4, N, C, H, W)
    result = task.evaluate(Zeros(), [{"frames": clips}])
    assert {"model/mae", "copy/mae", "blend/mae", "flow/mae"} <= set(result.scores)
    context, target = split_clip(clips)
    expected = (middle_frame(context) - target).abs().mean().item()  # mae over equal-sized clips
    assert abs(result.scores["flow/mae"] - expected) < 1e-6


def test_a_plugin_baseline_joins_the_table(testplug, tiny_recipe):
    registry = load(extra_plugins={"dark": _dark_plugin()}).registry
    task = _task(tiny_recipe, 'baselines = ["dark", "blend"]', registry)
    clips = torch.stack([task.datasets()["eval"][i]["frames"] for i in range(2)])
    scores = task.evaluate(Zeros(), [{"frames": clips}]).scores
    assert scores["dark/mae"] == scores["model/mae"]  # both predict black frames
    assert "flow/mae" not in scores and "blend/mae" in scores


def test_eval_interp_rows_carry_each_clips_motion_from_the_flow(testplug, tiny_recipe, tmp_path):
    import csv

    from click.testing import CliRunner

    from dvcore.baselines.flow import interpolate
    from dvcore.cli import main
    from dvcore.run import execute

    registry = load().registry
    tiny_recipe.write_text(tiny_recipe.read_text().replace('baselines = ["copy", "blend"]', ""))
    recipe = recipes.load(tiny_recipe, ["train.max_steps=2"], registry)
    execute(recipe, registry, run_dir=tmp_path / "run", progress=False)
    out = tmp_path / "eval"
    args = [
        "eval",
        "interp",
        str(tmp_path / "run"),
        "--metric",
        "mae",
        "--max-samples",
        "3",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with open(out / "per_clip.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["predictor"] for r in rows} == {"model", "copy", "blend", "flow"}
    dataset = registry.get("dataset", recipe.data.name).build(
        recipe.data.options, split="eval", seed=recipe.seed
    )
    for clip in range(3):
        context, _ = split_clip(dataset[clip]["frames"][None])
        expected = float(interpolate(context[:, 1], context[:, 2]).motion()[0])
        for row in (r for r in rows if r["clip"] == str(clip)):
            assert float(row["motion"]) == pytest.approx(expected, rel=1e-5)
    assert (out / "gain_vs_motion.png").stat().st_size > 0


def test_full_frame_eval_on_held_out_photo_motion(testplug, tiny_recipe, tmp_path):
    import csv
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from dvcore.cli import main
    from dvcore.run import execute

    registry = load().registry
    execute(recipes.load(tiny_recipe, ["train.max_steps=2"], registry), registry, run_dir=tmp_path / "run")
    data = Path(__file__).resolve().parents[2] / "recipes" / "eval" / "photo_motion_448x256.toml"
    out = tmp_path / "full"
    args = ["eval", "interp", str(tmp_path / "run"), "--data", str(data), "--metric", "mae"]
    result = CliRunner().invoke(main, [*args, "--max-samples", "2", "--batch-size", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "per_clip.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 3  # model, copy, blend (the tiny recipe's baselines)
    assert all(float(r["motion"]) > 1.0 for r in rows)  # 448x256 camera motion, in pixels
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["name"] == "photo_motion" and summary["data"]["width"] == 448
    assert summary["blend"]["mae"] > summary["copy"]["mae"] * 0.5  # scored on real frames
    assert (out / "gain_vs_motion.png").exists()
