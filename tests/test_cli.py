"""The `dvcore` command: exit codes and messages a user sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from dvcore.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_bad_recipe_exits_2_with_one_line_per_problem_and_no_traceback(testplug, tiny_recipe):
    env = {**os.environ, "PYTHONPATH": str(testplug)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dvcore.cli",
            "run",
            str(tiny_recipe),
            "--set",
            "model.width=six",
            "--set",
            "train.lr=-1.0",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[:2] == ["model.width: expected int, got 'six'", "train.lr: expected > 0, got -1.0"]
    assert lines[2].startswith("dvcore: 2 problems in ")
    assert "Traceback" not in proc.stderr
    assert not (tiny_recipe.parent / "runs").exists()  # nothing was created


def test_toml_syntax_error_exits_2(tmp_path, fresh_plugins):
    bad = tmp_path / "bad.toml"
    bad.write_text("experiment = \n")
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert result.output.splitlines()[0].startswith(f"{bad}:1:")


def test_missing_recipe_file_exits_2(tmp_path, fresh_plugins):
    result = invoke("validate", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "cannot read recipe" in result.output


def test_validate_builds_everything_and_reports_facts(testplug, tiny_recipe):
    result = invoke("validate", str(tiny_recipe))
    assert result.exit_code == 0, result.output
    assert (
        "ok — tiny_conv with 1,747 parameters, channels 12->3, samples (5, 3, 16, 16), train 64, eval 16"
        in result.output
    )
    assert not (tiny_recipe.parent / "runs").exists()


def test_validate_reports_a_loss_that_does_not_fit_the_task(testplug, tiny_recipe):
    result = invoke("validate", str(tiny_recipe), "--set", "eval.baselines=['copy', 'median']")
    assert result.exit_code == 2
    assert "eval.baselines: unknown baseline 'median'; valid choices: blend, copy, flow" in result.output


def test_plugins_json_lists_components_with_origin_and_options(testplug):
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    rows = {(c["kind"], c["name"]): c for c in data["components"]}
    tiny = rows[("backbone", "tiny_conv")]
    assert (tiny["origin"], tiny["version"]) == ("dvcore-testplug", "0.0.1")
    assert tiny["options"][0] == {
        "name": "width",
        "type": "int",
        "default": 8,
        "doc": "hidden channels",
        "constraints": ["> 0"],
    }
    assert rows[("task", "interpolate")]["origin"] == "dvcore"
    assert data["failures"] == []


def test_plugins_table_is_printed(testplug):
    result = invoke("plugins")
    assert result.exit_code == 0
    assert "tiny_conv" in result.output and "dvcore-testplug" in result.output


def test_run_writes_recipe_checkpoint_and_summary(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "the-run"
    result = invoke(
        "run", str(tiny_recipe), "--run-dir", str(run_dir), "--no-progress", "--set", "train.max_steps=4"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 4
    assert set(summary["eval"]) == {"model/mae", "model/loss", "copy/mae", "blend/mae"}
    assert (run_dir / "checkpoints" / "step_00000004" / "model.safetensors").exists()
    assert "max_steps = 4" in (run_dir / "recipe.toml").read_text()
    assert "blend" in result.output  # the end-of-run table
