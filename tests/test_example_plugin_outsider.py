"""The plugin guide's promise, end to end: the out-of-tree example plugin, installed as docs/plugins.md says.

Installed with ``pip install --target DIR`` + ``PYTHONPATH=DIR`` and with a normal ``pip install``
into a fresh venv, it is listed with its distribution, validates, has bad options reported as
one TOML-path line each (exit 2), trains its recipe with its metric in summary.json and Aim,
and ``dvcore movie`` / ``dvcore eval interp`` either work with its task or refuse it in one line.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.outsider import dvcore, make_venv, pip

EXAMPLE = Path(__file__).parents[1] / "examples" / "dvcore-example-plugin"
COMPONENTS = {
    ("backbone", "example_convnet"),
    ("dataset", "example_drift"),
    ("metric", "example_mae"),
    ("task", "example_extrapolate"),
}


def listed(python: Path, env: dict | None = None) -> set[tuple[str, str, str]]:
    result = dvcore(python, "plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["components"]
    return {(r["kind"], r["name"], f"{r['origin']} {r['version']}") for r in rows}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # several installs and dvcore processes on a busy 2-core machine
def test_the_example_plugin_works_as_the_guide_says(tmp_path: Path):
    # the scenario ends with `dvcore eval interp`, whose default metrics come from dvcore-metrics
    pytest.importorskip("dvcore_metrics")
    python = make_venv(tmp_path / "venv")
    target = tmp_path / "target"
    installed = pip(python, "--target", str(target), str(EXAMPLE))
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {"PYTHONPATH": str(target)}

    # listed with its distribution and version
    assert {(k, n, "dvcore-example-plugin 0.1.0") for k, n in COMPONENTS} <= listed(python, env)

    recipe = tmp_path / "example.toml"  # the example's recipe, its runs under tmp_path
    head = f'experiment = "example"\nruns_root = "{tmp_path / "runs"}"\nrun_name = "r1"'
    recipe.write_text(
        (EXAMPLE / "recipes" / "example.toml").read_text().replace('experiment = "example"', head)
    )
    tracker = "aim" if importlib.util.find_spec("aim") else "none"
    small = ("--set", "train.max_steps=20", "--set", "data.num_train=64", "--set", "data.num_eval=16")
    small += ("--set", f"tracker.name='{tracker}'")  # the core env has no aim

    valid = dvcore(python, "validate", str(recipe), *small, env=env)
    assert valid.returncode == 0, valid.stderr
    assert "example_convnet" in valid.stdout

    bad = dvcore(python, "validate", str(recipe), "--set", "model.widht=8", "--set", "data.size=4", env=env)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert any(line.startswith("model.widht: unknown key") and "'width'" in line for line in lines), lines
    assert any(line.startswith("data.size: expected >= 8, got 4") for line in lines), lines
    assert "Traceback" not in bad.stderr

    run = dvcore(python, "run", str(recipe), *small, "--no-progress", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    run_dir = tmp_path / "runs" / "example" / "r1"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 20
    assert {"model/example_mae", "copy/example_mae"} <= set(summary["eval"])
    if tracker == "aim":  # read back as `aim up` does: after indexing
        import aim

        repo = tmp_path / "runs" / ".aim"
        aim_cli = Path(sys.executable).with_name("aim")
        subprocess.run(
            [str(aim_cli), "storage", "--repo", str(repo), "reindex", "-y"], check=True, capture_output=True
        )
        tracked = aim.Repo.from_path(str(repo)).get_run(summary["tracker_run_id"])
        assert "model/example_mae" in {m.name for m in tracked.metrics()}

    for command in (("movie", str(run_dir), "--no-track"), ("eval", "interp", str(run_dir))):
        answer = dvcore(python, *command, env=env)
        assert "Traceback" not in answer.stderr, answer.stderr
        if answer.returncode != 0:  # refused: one clear line naming the task, exit 2
            assert answer.returncode == 2, answer.stderr
            problems = [line for line in answer.stderr.splitlines() if not line.startswith("dvcore: ")]
            assert len(problems) == 1 and "example_extrapolate" in problems[0], answer.stderr

    # a normal install into the venv (no PYTHONPATH) is listed the same way
    normal = pip(python, str(EXAMPLE))
    assert normal.returncode == 0, normal.stderr[-3000:]
    assert {(k, n, "dvcore-example-plugin 0.1.0") for k, n in COMPONENTS} <= listed(python)
