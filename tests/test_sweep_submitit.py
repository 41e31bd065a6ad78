"""`dvcore sweep --launcher submitit-local`: the SLURM path (a submitit job array) run end to end with
submitit's local executor: real runs, their summaries, and a re-run that submits nothing."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from dvcore.cli import main


def test_without_submitit_the_launcher_is_one_line_before_anything_runs(tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    result = CliRunner().invoke(main, ["sweep", str(tiny_recipe), "--seeds", "0,1", "--launcher", "slurm"])
    assert result.exit_code == 2, result.output
    assert "--launcher slurm: needs submitit: pip install 'dvcore[slurm]'" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_tiny_sweep_runs_as_a_submitit_job_array_and_reruns_skip_it(testplug, tiny_recipe, tmp_path):
    pytest.importorskip("submitit")
    args = [
        "sweep",
        str(tiny_recipe),
        "--grid",
        "model.width=4,6",
        "--name",
        "array",
        "--launcher",
        "submitit-local",
        "--set",
        "train.max_steps=2",
        "--set",
        "data.num_eval=4",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    directory = tmp_path / "runs" / "tiny" / "array"
    for name in ("width=4", "width=6"):
        assert f"{name}: submitted as job" in result.output and f"{name}: completed" in result.output
        summary = json.loads((directory / name / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["steps"] == 2
        assert "width = " + name[-1] in (directory / name / "recipe.toml").read_text()
        assert "$ " in (directory / "logs" / f"{name}.log").read_text()  # run_command ran in the array job
    jobs = sorted(p.name for p in (directory / "submitit").glob("*_submitted.pkl"))
    assert len(jobs) == 2  # one submitit job per run (the local executor has no arrays)
    stamps = {n: (directory / n / "summary.json").stat().st_mtime_ns for n in ("width=4", "width=6")}

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "width=4: skipped (completed earlier)" in result.output
    assert "width=6: skipped (completed earlier)" in result.output and "submitted" not in result.output
    assert sorted(p.name for p in (directory / "submitit").glob("*_submitted.pkl")) == jobs
    assert {n: (directory / n / "summary.json").stat().st_mtime_ns for n in stamps} == stamps
