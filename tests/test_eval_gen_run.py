"""`dvcore eval gen RUN [--data FILE | --set data.…]`: a generation run's samples scored against the eval
images of its own data or of other data, building only the eval split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import execute
from dvcore.sampling import save_png
from dvcore.testing.fixtures import write_image
from tests.test_sample_movie import GENERATE

pytest.importorskip("sklearn")
pytest.importorskip("dvcore_metrics")  # fid / kid

FEATURES = ["--features", "random_conv", "--metric", "fid", "--metric", "kid", "--batch-size", "4"]


@pytest.fixture
def gen_run(testplug, tmp_path) -> Path:
    """A 3-step digits run with RGB images (so RGB folders can be its reference data)."""
    path = tmp_path / "gen.toml"
    path.write_text(GENERATE.replace("RUNS", str(tmp_path / "runs")))
    registry = plugins.load().registry
    recipe = recipes.load(path, ["data.channels=3", "train.max_steps=2"], registry)
    execute(recipe, registry, run_dir=tmp_path / "run", progress=False)
    return tmp_path / "run"


def folder_scores(runner: CliRunner, samples: Path, reference: Path) -> dict[str, float]:
    result = runner.invoke(main, ["eval", "gen", str(samples), "--ref", str(reference), *FEATURES, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_run_scores_what_sample_then_eval_gen_on_folders_scores(gen_run, tmp_path, monkeypatch):
    """The run path = `dvcore sample` + the eval images saved as PNGs + `eval gen FOLDER --ref FOLDER`."""
    from dvcore.track.base import Tracker

    logged: list[tuple] = []
    monkeypatch.setattr(
        Tracker, "log_scalars", lambda self, values, step, context: logged.append((values, step, context))
    )
    runner = CliRunner()
    result = runner.invoke(
        main, ["eval", "gen", str(gen_run), *FEATURES, "--num", "10", "--max-samples", "12"]
    )
    assert result.exit_code == 0, result.output
    assert "data: eval split of digits (channels=3)" in result.output  # the output names the data
    record = json.loads((gen_run / "eval" / "gen_summary.json").read_text())
    assert record["generated"] == 10 and record["reference_images"] == 12
    assert record["data"]["name"] == "digits" and record["weights"] == "ema"
    assert logged == [
        ({f"model/{k}": v for k, v in record["scores"].items()}, 2, "eval_gen")
    ]  # the run's tracker

    result = runner.invoke(main, ["sample", str(gen_run), "--num", "10", "--out", str(tmp_path / "samples")])
    assert result.exit_code == 0, result.output
    from dvcore.data.digits import DigitsOptions, build_digits

    eval_split = build_digits(DigitsOptions(channels=3), split="eval", seed=0)
    (tmp_path / "real").mkdir()
    for i in range(12):
        save_png(eval_split[i]["image"], tmp_path / "real" / f"{i:02d}.png")
    expected = folder_scores(runner, tmp_path / "samples", tmp_path / "real")
    assert record["scores"] == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_other_data_from_a_file_builds_only_its_eval_split(gen_run, tmp_path):
    """An image_folder whose train root is empty: only eval_root is read; the output is named after the
    file."""
    rng = np.random.default_rng(0)
    for i in range(6):
        write_image(tmp_path / "mine" / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    (tmp_path / "empty").mkdir()
    data_file = tmp_path / "mine.toml"
    data_file.write_text(
        f'[data]\nname = "image_folder"\nroot = "{tmp_path / "empty"}"\n'
        f'eval_root = "{tmp_path / "mine"}"\nsize = 16\n'
    )
    runner = CliRunner()
    result = runner.invoke(
        main, ["eval", "gen", str(gen_run), *FEATURES, "--data", str(data_file), "--num", "8", "--no-track"]
    )
    assert result.exit_code == 0, result.output
    assert "data: eval split of image_folder (root=" in result.output
    record = json.loads((gen_run / "eval-mine" / "gen_summary.json").read_text())
    assert record["data"]["eval_root"] == str(tmp_path / "mine") and record["reference_images"] == 6
    # the same images given as --ref: the same scores (16x16 PNGs pass image_folder unchanged)
    result = runner.invoke(
        main,
        ["eval", "gen", str(gen_run), *FEATURES, "--ref", str(tmp_path / "mine"), "--num", "8", "--no-track"],
    )
    assert result.exit_code == 0, result.output
    with_ref = json.loads((gen_run / "eval" / "gen_summary.json").read_text())
    assert with_ref["reference"] == str(tmp_path / "mine")
    assert record["scores"] == pytest.approx(with_ref["scores"], rel=1e-5, abs=1e-8)


def test_loss_per_t_on_other_data(gen_run, tmp_path):
    rng = np.random.default_rng(1)
    for i in range(5):
        write_image(tmp_path / "mine" / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    data_file = tmp_path / "mine.toml"
    data_file.write_text(
        f'name = "image_folder"\nroot = "{tmp_path / "mine"}"\neval_root = "{tmp_path / "mine"}"\n'
    )
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "loss-per-t",
            str(gen_run),
            "--data",
            str(data_file),
            "--set",
            "data.size=16",
            "--buckets",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5 samples of data: image_folder (root=" in result.output
    (out,) = [p for p in gen_run.iterdir() if p.name.startswith("eval-mine_set-")]  # --data and --set
    counts = [int(line.split(",")[3]) for line in (out / "loss_per_t.csv").read_text().splitlines()[1:]]
    assert len(counts) == 4 and sum(counts) == 5


def test_set_overrides_the_data_and_bad_input_is_one_line(gen_run, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "eval",
            "gen",
            str(gen_run),
            *FEATURES,
            "--set",
            "data.eval_fraction=0.05",
            "--num",
            "4",
            "--no-track",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "eval_fraction=0.05" in result.output
    (out,) = [p for p in gen_run.iterdir() if p.name.startswith("eval-set-")]
    record = json.loads((out / "gen_summary.json").read_text())
    assert record["data"]["eval_fraction"] == 0.05 and record["reference_images"] == 90  # 5% of 1797

    result = runner.invoke(main, ["eval", "gen", str(gen_run), *FEATURES, "--set", "data.nope=1"])
    assert result.exit_code == 2 and "data.nope" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["eval", "gen", str(tmp_path), "--ref", str(tmp_path), "--num", "3"])
    assert result.exit_code == 2 and "--num: only for a RUN directory" in result.output
    result = runner.invoke(main, ["eval", "gen", str(tmp_path)])
    assert result.exit_code == 2 and "--ref: required" in result.output


def test_reference_statistics_score_like_the_images_they_were_made_from(gen_run, tmp_path):
    rng = np.random.default_rng(2)
    for i in range(6):
        write_image(tmp_path / "mine" / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    runner = CliRunner()
    stats = tmp_path / "mine.npz"
    result = runner.invoke(
        main, ["eval", "stats", str(tmp_path / "mine"), "--out", str(stats), "--features", "random_conv"]
    )
    assert result.exit_code == 0, result.output
    fid = ["--features", "random_conv", "--metric", "fid", "--num", "5", "--no-track", "--json"]
    by_stats = runner.invoke(main, ["eval", "gen", str(gen_run), "--ref", str(stats), *fid])
    by_images = runner.invoke(main, ["eval", "gen", str(gen_run), "--ref", str(tmp_path / "mine"), *fid])
    assert by_stats.exit_code == 0 and by_images.exit_code == 0, by_stats.output + by_images.output
    assert json.loads(by_stats.output)["fid"] == pytest.approx(json.loads(by_images.output)["fid"], rel=1e-6)
    result = runner.invoke(main, ["eval", "gen", str(gen_run), "--ref", str(stats), *fid[:4]])
    assert result.exit_code == 2 and "--num: required when --ref is a statistics file" in result.output
