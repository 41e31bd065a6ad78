"""`dvcore eval interp RUN --data FILE / --set data.…`: a run scored on other data, building only its eval
split."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import execute
from dvcore.testing.fixtures import make_vimeo


@pytest.fixture
def trained(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    recipe = recipes.load(tiny_recipe, ["train.max_steps=2"], registry)
    execute(recipe, registry, run_dir=tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_a_shapes_run_scored_on_a_vimeo_folder_without_a_train_list(trained, tmp_path):
    root = make_vimeo(tmp_path / "vimeo", train=[], test=["00001/0001", "00001/0002"], size=(16, 24))
    data_file = tmp_path / "clips.toml"
    data_file.write_text(f'[data]\nname = "vimeo_septuplet"\nroot = "{root}"\n')
    result = CliRunner().invoke(
        main, ["eval", "interp", str(trained), "--data", str(data_file), "--metric", "mae"]
    )
    assert result.exit_code == 0, result.output
    assert "data: vimeo_septuplet (root=" in result.output  # the output names the data it used
    out = trained / "eval-clips"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["name"] == "vimeo_septuplet" and summary["data"]["root"] == str(root)
    with open(out / "per_clip.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted({r["clip"] for r in rows}) == ["0", "1"]
    # an independent check: blend of clip 0 = mean of im3 and im5, against im4, from the PNGs
    frames = [
        np.asarray(Image.open(root / "sequences/00001/0001" / f"im{k}.png"), np.float64) / 255
        for k in (3, 4, 5)
    ]
    expected = np.abs(0.5 * (frames[0] + frames[2]) - frames[1]).mean()
    blend = next(float(r["mae"]) for r in rows if r["predictor"] == "blend" and r["clip"] == "0")
    assert blend == pytest.approx(expected, abs=1e-6)


def test_set_overrides_the_data_and_names_the_output(trained):
    result = CliRunner().invoke(
        main, ["eval", "interp", str(trained), "--set", "data.num_eval=3", "--metric", "mae", "--no-track"]
    )
    assert result.exit_code == 0, result.output
    assert "num_eval=3" in result.output
    (out,) = [p for p in trained.iterdir() if p.name.startswith("eval-set-")]
    with open(out / "per_clip.csv") as f:
        assert len({r["clip"] for r in csv.DictReader(f)}) == 3


def test_overrides_that_change_the_model_are_one_line(trained):
    result = CliRunner().invoke(
        main, ["eval", "interp", str(trained), "--set", "model.width=4", "--no-track"]
    )
    assert result.exit_code == 2
    assert "the checkpoint's weights do not fit the model as overridden" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_from_the_cli_score_on_clips_fine_tune_there_and_compare(testplug, tiny_recipe, tmp_path):
    """A shapes-trained run scored on a Vimeo-layout folder, fine-tuned on it with --init-from, compared."""
    root = make_vimeo(tmp_path / "vimeo", train=[f"00001/{i:04d}" for i in range(8)], test=["00002/0001"])
    data_file = tmp_path / "vimeo.toml"
    data_file.write_text(f'[data]\nname = "vimeo_septuplet"\nroot = "{root}"\n')
    runner = CliRunner()
    shapes = tmp_path / "runs" / "tiny" / "shapes"
    result = runner.invoke(
        main, ["run", str(tiny_recipe), "--run-dir", str(shapes), "--set", "train.max_steps=2"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["eval", "interp", str(shapes), "--data", str(data_file), "--metric", "mae"])
    assert result.exit_code == 0, result.output
    tuned = tmp_path / "runs" / "tiny" / "tuned"
    result = runner.invoke(
        main,
        [
            "run",
            str(tiny_recipe),
            "--init-from",
            str(shapes),
            "--run-dir",
            str(tuned),
            "--set",
            "train.max_steps=2",
            "--set",
            "data.name=vimeo_septuplet",
            "--set",
            f"data.root='{root}'",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tuned / "summary.json").read_text())["init"]["from"] == str(shapes)
    result = runner.invoke(main, ["compare", str(shapes), str(tuned), "--no-track"])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0]
    assert "data.name" in header and "init.from" in header and "model/mae" in header
