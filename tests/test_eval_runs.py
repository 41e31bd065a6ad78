"""`dvcore eval interp` and `dvcore eval loss-per-t` on tiny trained runs."""

from __future__ import annotations

import csv
import json
from importlib import metadata

import pytest
import torch
from click.testing import CliRunner

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.baselines import blend_baseline
from dvcore.cli import main
from dvcore.run import execute
from dvcore.tasks.interpolate import split_clip
from tests.test_sample_movie import GENERATE


def test_eval_interp_writes_per_clip_rows_and_their_summary(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    execute(
        recipes.load(tiny_recipe, ["train.max_steps=3"], registry),
        registry,
        run_dir=tmp_path / "run",
        progress=False,
    )
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "interp",
            str(tmp_path / "run"),
            "--metric",
            "mae",
            "--max-samples",
            "6",
            "--batch-size",
            "4",
            "--out",
            str(tmp_path / "eval"),
        ],
    )
    assert result.exit_code == 0, result.output
    with open(tmp_path / "eval" / "per_clip.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 18 and {r["predictor"] for r in rows} == {"model", "copy", "blend"}
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    blend_rows = [float(r["mae"]) for r in rows if r["predictor"] == "blend"]
    assert summary["blend"]["mae"] == pytest.approx(sum(blend_rows) / 6)
    # an independent check of one row: the blend of clip 0 against its middle frame
    from dvcore.data.moving_shapes import MovingShapesOptions, build_moving_shapes

    clip = build_moving_shapes(MovingShapesOptions(size=16, num_train=64, num_eval=16), split="eval", seed=0)[
        0
    ]
    context, target = split_clip(clip["frames"][None])
    expected = (blend_baseline(context) - target).abs().mean().item()
    assert float(
        next(r["mae"] for r in rows if r["predictor"] == "blend" and r["clip"] == "0")
    ) == pytest.approx(expected, rel=1e-6)


def test_eval_interp_gives_the_numbers_of_training_time_eval(testplug, tiny_recipe, tmp_path):
    """One scoring path: `dvcore eval interp` on a finished diffusion run reproduces the final eval
    of training (same weights, clips, batch size and seed), spread included."""
    registry = plugins.load().registry
    diffusion = [
        "task.mode=diffusion",
        "task.sample_steps=3",
        "task.samples_per_clip=3",
        "loss=diffusion",
        "schedule.name=linear",
        "schedule.num_train_timesteps=100",
        "train.max_steps=3",
        "eval.max_samples=6",
        "eval.batch_size=4",
    ]
    summary = execute(
        recipes.load(tiny_recipe, diffusion, registry), registry, run_dir=tmp_path / "run", progress=False
    )
    args = ["eval", "interp", str(tmp_path / "run"), "--metric", "mae", "--max-samples", "6"]
    result = CliRunner().invoke(main, [*args, "--batch-size", "4", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "eval" / "summary.json").read_text())
    trained = summary["eval"]
    assert trained["model/mae_std"] > 0  # three different samples per clip
    assert scored["model"]["mae"] == trained["model/mae"]
    assert scored["model"]["mae_std"] == trained["model/mae_std"]
    for baseline in ("copy", "blend"):
        assert scored[baseline]["mae"] == trained[f"{baseline}/mae"]
    # a clip's samples do not depend on the batch it is drawn in
    again = CliRunner().invoke(main, [*args, "--batch-size", "5", "--out", str(tmp_path / "eval5")])
    assert again.exit_code == 0, again.output
    rescored = json.loads((tmp_path / "eval5" / "summary.json").read_text())
    assert rescored["model"]["mae"] == pytest.approx(trained["model/mae"], rel=1e-5)


def test_eval_interp_refuses_a_generate_run(testplug, tmp_path):
    pytest.importorskip("sklearn")
    path = tmp_path / "gen.toml"
    path.write_text(GENERATE.replace("RUNS", str(tmp_path / "runs")))
    registry = plugins.load().registry
    execute(recipes.load(path, [], registry), registry, run_dir=tmp_path / "gen", progress=False)
    result = CliRunner().invoke(main, ["eval", "interp", str(tmp_path / "gen"), "--metric", "mae"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"dvcore eval interp: task 'generate' of dvcore {metadata.version('dvcore')} cannot evaluate a run "
        "sample by sample (it has no evaluate_run(); see dvcore.tasks.capabilities.EvaluatesRuns)"
    )

    curve = CliRunner().invoke(
        main,
        [
            "eval",
            "loss-per-t",
            str(tmp_path / "gen"),
            "--buckets",
            "5",
            "--max-samples",
            "40",
            "--out",
            str(tmp_path / "lpt"),
            "--no-track",
        ],
    )
    assert curve.exit_code == 0, curve.output
    lines = (tmp_path / "lpt" / "loss_per_t.csv").read_text().splitlines()
    assert lines[0] == "bucket,t_centre,loss,count" and len(lines) == 6
    assert sum(int(line.split(",")[3]) for line in lines[1:]) == 40
    assert all(
        torch.isfinite(torch.tensor(float(line.split(",")[2])))
        for line in lines[1:]
        if int(line.split(",")[3])
    )
    assert (tmp_path / "lpt" / "loss_per_t.png").stat().st_size > 0


def test_movie_of_an_interpolation_run_regression_and_diffusion(testplug, tiny_recipe, tmp_path):
    from PIL import Image

    registry = plugins.load().registry
    execute(
        recipes.load(tiny_recipe, ["train.max_steps=2"], registry),
        registry,
        run_dir=tmp_path / "reg",
        progress=False,
    )
    gif = tmp_path / "reg.gif"
    result = CliRunner().invoke(
        main, ["movie", str(tmp_path / "reg"), "--num", "3", "--out", str(gif), "--no-track"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(gif).n_frames == 5  # the clips played back, frame by frame

    diffusion = [
        "train.max_steps=2",
        "task.mode='diffusion'",
        "task.sample_steps=3",
        "loss.name='diffusion'",
        "schedule.name='linear'",
        "schedule.num_train_timesteps=50",
        "eval.metrics=[]",
    ]
    execute(
        recipes.load(tiny_recipe, diffusion, registry), registry, run_dir=tmp_path / "dif", progress=False
    )
    gif = tmp_path / "dif.gif"
    result = CliRunner().invoke(
        main, ["movie", str(tmp_path / "dif"), "--num", "2", "--steps", "4", "--out", str(gif), "--no-track"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(gif).n_frames == 4  # one frame per sampling step


def test_tiled_eval_matches_whole_frame_prediction(testplug, tiny_recipe, tmp_path):
    from dvcore.inference import load_run

    registry = plugins.load().registry
    execute(
        recipes.load(tiny_recipe, ["train.max_steps=2"], registry),
        registry,
        run_dir=tmp_path / "run",
        progress=False,
    )
    whole = load_run(tmp_path / "run", registry)
    # tiny_conv sees 3 px around a pixel: a 4 px margin makes every kept pixel exact
    tiled = load_run(
        tmp_path / "run", registry, overrides=("task.tile=12", "task.tile_overlap=8", "task.tile_margin=4")
    )
    frames = torch.stack([whole.task.datasets()["eval"][i]["frames"] for i in range(3)])  # (3, 5, 3, 16, 16)
    context, _ = split_clip(frames)
    with torch.no_grad():
        a, b = whole.task.predict(whole.model, context), tiled.task.predict(tiled.model, context)
    assert a.shape == b.shape == (3, 3, 16, 16)
    assert (a - b).abs().max().item() < 1e-5
