"""Sweeps: grid expansion and naming, all points validated first, completed runs skipped, stopped ones
resumed
exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from dvcore import sweep as sweeps
from dvcore import sweep_launch
from dvcore.cli import main


def test_parse_values_reads_toml_values():
    assert sweeps.parse_values("linear,quantized") == ["linear", "quantized"]
    assert sweeps.parse_values("1e-3, 3e-3") == [1e-3, 3e-3]
    assert sweeps.parse_values("true,false") == [True, False]
    assert sweeps.parse_values("[1, 2],[3]") == [[1, 2], [3]]
    assert sweeps.parse_values('"a,b",c') == ["a,b", "c"]


def test_expansion_names_runs_by_what_differs(tmp_path):
    spec = sweeps.Sweep(
        recipe=Path("r.toml"),
        name="abl",
        grid={"model.width": [4, 8], "train.lr": [0.1], "model.residual": [True, False]},
        seeds=[0, 1],
        overrides=("train.max_steps=3",),
    )
    points = sweeps.expand(spec, tmp_path, base_tags=["mine"])
    assert [p.name for p in points][:3] == [
        "width=4,residual=true,seed=0",
        "width=4,residual=true,seed=1",
        "width=4,residual=false,seed=0",
    ]
    assert len(points) == 8 and len({p.name for p in points}) == 8
    first = points[0]
    assert first.run_dir == tmp_path / first.name
    assert first.overrides[:5] == (
        "train.max_steps=3",
        "model.width=4",
        "train.lr=0.1",  # a single value applies to every run but does not name them
        "model.residual=true",
        "seed=0",
    )
    assert 'tags=["mine", "sweep:abl", "model.width=4", "model.residual=true"]' in first.overrides
    assert sweeps.short_keys(["model.depth", "data.depth", "train.lr"]) == {
        "model.depth": "model.depth",
        "data.depth": "data.depth",
        "train.lr": "lr",
    }


def test_every_bad_point_is_reported_before_any_run(testplug, tiny_recipe, tmp_path):
    result = CliRunner().invoke(
        main,
        ["sweep", str(tiny_recipe), "--grid", "model.width=4,-1", "--grid", "train.lr=0.1,-2.0"],
    )
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert "width=-1,lr=0.1: model.width: expected > 0, got -1" in lines
    assert "width=4,lr=-2.0: train.lr: expected > 0, got -2.0" in lines
    assert "width=-1,lr=-2.0: model.width: expected > 0, got -1" in lines
    assert not (tmp_path / "runs").exists()  # nothing started


def test_a_sweep_table_in_a_recipe_file(testplug, tiny_recipe, tmp_path):
    sweep_file = tmp_path / "abl.toml"
    sweep_file.write_text(
        'extends = "tiny.toml"\n[sweep]\nseeds = [0, 1]\n[sweep.grid]\n"model.width" = [4, 8]\n'
    )
    result = CliRunner().invoke(main, ["sweep", str(sweep_file), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"sweep abl: 4 runs in {tmp_path / 'runs' / 'tiny' / 'abl'}" in result.output
    assert "width=8,seed=1: new" in result.output
    result = CliRunner().invoke(main, ["run", str(sweep_file)])
    assert result.exit_code == 2 and "[sweep] describes a sweep of runs" in result.output


def test_threads_are_split_between_jobs():
    assert sweep_launch.threads_per_run(jobs=2, nproc_per_run=1, cpus=16) == 8
    assert sweep_launch.threads_per_run(jobs=4, nproc_per_run=2, cpus=16) == 2
    assert sweep_launch.threads_per_run(jobs=8, nproc_per_run=1, cpus=2) == 1


def test_a_multi_process_run_is_wrapped_in_torchrun(tmp_path):
    spec = sweeps.Sweep(recipe=Path("r.toml"), name="s", grid={"seed": [0, 1]}, nproc_per_run=2)
    point = sweeps.expand(spec, tmp_path)[0]
    job = sweep_launch.make_job(spec, point, "new", tmp_path / "logs", threads=4)
    assert job.argv[:5] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
    ]
    assert job.argv[5:8] == ["-m", "dvcore", "run"] and job.env["OMP_NUM_THREADS"] == "4"
    resume = sweep_launch.make_job(spec, point, "resume", tmp_path / "logs", threads=4)
    assert resume.argv[-4:] == ["run", "--resume", str(point.run_dir), "--no-progress"]


def test_submitit_local_executor_runs_the_job_array(tmp_path):
    submitit = pytest.importorskip("submitit")
    spec = sweeps.Sweep(recipe=Path("r.toml"), name="s", grid={"seed": [0, 1]})
    jobs = [
        sweep_launch.Job(
            p, "new", [sys.executable, "-c", f"print('hello {p.name}')"], {}, tmp_path / f"{p.name}.log"
        )
        for p in sweeps.expand(spec, tmp_path)
    ]
    handles = sweep_launch.submit(jobs, submitit.LocalExecutor(folder=str(tmp_path / "submitit")), {}, 2)
    assert [h.result() for h in handles] == [0, 0]
    assert "hello seed=1" in (tmp_path / "seed=1.log").read_text()


@pytest.mark.slow
def test_rerun_skips_completed_runs_and_resumes_a_stopped_one_exactly(testplug, tiny_recipe, tmp_path):
    args = [
        "sweep",
        str(tiny_recipe),
        "--grid",
        "model.width=4,6",
        "--name",
        "w",
        "--set",
        "train.max_steps=4",
        "--set",
        "train.checkpoint_every=2",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    directory = tmp_path / "runs" / "tiny" / "w"
    done, stopped = directory / "width=4", directory / "width=6"
    uninterrupted = load_file(stopped / "checkpoints" / "step_00000004" / "model.safetensors")
    # make width=6 a run stopped at step 2: its last checkpoint and summary gone
    import shutil

    shutil.rmtree(stopped / "checkpoints" / "step_00000004")
    summary = json.loads((stopped / "summary.json").read_text())
    (stopped / "summary.json").write_text(json.dumps({**summary, "status": "stopped"}))
    before = (done / "summary.json").stat().st_mtime_ns

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "width=4: skipped (completed earlier)" in result.output
    assert "width=6: completed" in result.output
    assert (done / "summary.json").stat().st_mtime_ns == before  # not redone
    resumed = load_file(stopped / "checkpoints" / "step_00000004" / "model.safetensors")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)  # exactly where it stopped
    assert "resumed from" in (directory / "logs" / "width=6.log").read_text()
    manifest = json.loads((directory / "sweep.json").read_text())
    assert [p["name"] for p in manifest["points"]] == ["width=4", "width=6"]
