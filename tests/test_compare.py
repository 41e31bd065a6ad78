"""`dvcore compare`: the keys that differ vs final metrics, mean ± std over seeds, best marked."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
import tomli_w
from click.testing import CliRunner

from dvcore import compare as comparing
from dvcore.cli import main

# (width, lr, seed) -> model/psnr, model/mae
SCORES = {
    (4, 0.1, 0): (20.0, 0.30),
    (4, 0.1, 1): (22.0, 0.26),
    (8, 0.1, 0): (25.0, 0.20),
    (8, 0.1, 1): (26.0, 0.10),
    (16, 0.1, 0): (24.0, 0.25),
    (16, 0.1, 1): (23.0, 0.21),
}


def fake_run(path, width, lr, seed, psnr, mae):
    """A finished run directory as dvcore writes one: resolved recipe.toml and summary.json."""
    path.mkdir(parents=True)
    recipe = {
        "experiment": "cmp",
        "seed": seed,
        "run_name": path.name,
        "runs_root": str(path.parent),
        "model": {"name": "tiny_conv", "width": width, "depth": 2},
        "train": {"lr": lr, "batch_size": 8},
        "tracker": {"name": "none"},
    }
    (path / "recipe.toml").write_text(tomli_w.dumps(recipe))
    summary = {
        "eval": {"model/psnr": psnr, "model/mae": mae, "blend/psnr": 19.0},
        "train_seconds": 10.0 + seed,
    }
    (path / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def sweep_dir(tmp_path):
    folder = tmp_path / "sweep"
    points = []
    for (width, lr, seed), (psnr, mae) in SCORES.items():
        name = f"width={width},seed={seed}"
        fake_run(folder / name, width, lr, seed, psnr, mae)
        points.append({"name": name, "values": {}, "run_dir": str(folder / name)})
    (folder / "sweep.json").write_text(json.dumps({"name": "s", "points": points}))
    (tmp_path / "sweep" / "unfinished").mkdir()
    (tmp_path / "sweep" / "unfinished" / "recipe.toml").write_text('experiment = "cmp"\n')
    return folder


def test_rows_group_seeds_with_mean_and_sample_std(sweep_dir):
    table = comparing.compare([sweep_dir])
    assert table.keys == ["model.width"]  # lr is the same everywhere; seed is the grouping
    assert table.metrics == ["model/psnr", "model/mae"]
    for row in table.rows:
        width = row.values["model.width"]
        psnr = [SCORES[(width, 0.1, s)][0] for s in (0, 1)]
        assert row.means["model/psnr"] == pytest.approx(statistics.mean(psnr))
        assert row.stds["model/psnr"] == pytest.approx(statistics.stdev(psnr))  # ddof 1
    widths = [row.values["model.width"] for row in table.rows]
    assert table.best == {"model/psnr": widths.index(8), "model/mae": widths.index(8)}  # mae: lower is better


def test_markdown_csv_json_and_plot(sweep_dir):
    table = comparing.compare([sweep_dir])
    text = comparing.markdown(table)
    assert text.splitlines()[0] == "| model.width | seeds | model/psnr | model/mae | train s |"
    assert "| 8 | 0,1 | **25.5000 ± 0.7071** | **0.1500 ± 0.0707** | 10 |" in text
    written = comparing.write(table, sweep_dir)
    with open(sweep_dir / "compare.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model.width"] for r in rows] == ["4", "8", "16"]
    assert float(rows[0]["model/psnr"]) == 21.0 and rows[1]["best"] == "model/psnr;model/mae"
    record = json.loads((sweep_dir / "compare.json").read_text())
    assert record["keys"] == ["model.width"] and record["rows"][2]["model/psnr_std"] == pytest.approx(
        0.7071, 1e-3
    )
    assert {p.name for p in written} == {"compare.md", "compare.csv", "compare.json"}
    assert comparing.numeric_key(table) == "model.width"
    image = comparing.plot(table, "model.width", "model/psnr")
    assert image.shape[0] == 3 and image.min() >= 0 and image.max() <= 1


def test_the_command_prints_the_table_and_skips_unfinished_runs(sweep_dir):
    result = CliRunner().invoke(main, ["compare", str(sweep_dir), "--no-track", "--metric", "psnr"])
    assert result.exit_code == 0, result.output
    assert "| 4 | 0,1 | 21.0000 ± 1.4142 |" in result.output
    assert (sweep_dir / "compare.png").exists() and (sweep_dir / "compare.md").exists()


def test_a_folder_of_runs_and_no_runs(sweep_dir, tmp_path):
    table = comparing.compare([sweep_dir / "width=4,seed=0", sweep_dir / "width=8,seed=1"])
    assert [r.values for r in table.rows] == [{"model.width": 4}, {"model.width": 8}]  # one seed each: no std
    assert [r.stds["model/psnr"] for r in table.rows] == [None, None]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["compare", str(empty), "--no-track"])
    assert result.exit_code == 2 and "no finished runs to compare" in result.output


def test_no_plot_when_the_numeric_key_never_varies_at_a_fixed_setting_of_the_others(sweep_dir, tmp_path):
    """width 4 with lr 0.1 and width 8 with lr 0.2: each line of the plot would be a lone point."""
    fake_run(tmp_path / "a", 4, 0.1, 0, 20.0, 0.3)
    fake_run(tmp_path / "b", 8, 0.2, 0, 21.0, 0.2)
    table = comparing.compare([tmp_path / "a", tmp_path / "b"])
    assert table.keys == ["model.width", "train.lr"] and comparing.numeric_key(table) is None
    fake_run(tmp_path / "c", 8, 0.1, 0, 22.0, 0.1)
    table = comparing.compare([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert comparing.numeric_key(table) == "model.width"  # 4 and 8 at lr 0.1
