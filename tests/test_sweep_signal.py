"""An interrupted sweep: SIGTERM to `dvcore sweep` stops its running child (which checkpoints) and starts
nothing more; the same command then resumes the stopped run and runs the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dvcore.train import checkpoint


@pytest.mark.slow
def test_sigterm_stops_the_sweep_and_the_same_command_resumes_it(testplug, tiny_recipe, tmp_path):
    command = [
        sys.executable,
        "-m",
        "dvcore",
        "sweep",
        str(tiny_recipe),
        "--grid",
        "model.width=4,6",
        "--name",
        "sig",
        "--set",
        "train.max_steps=40",
        "--set",
        "train.checkpoint_every=2",
        "--set",
        "data.num_eval=4",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # PYTHONPATH: the testplug fixture's
    directory = tmp_path / "runs" / "tiny" / "sig"
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    while not checkpoint.list_checkpoints(directory / "width=4" / "checkpoints"):
        if sweep.poll() is not None or time.monotonic() > deadline:
            sweep.kill()
            pytest.fail(f"no checkpoint of the first run: {sweep.communicate()[0]}")
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    output = sweep.communicate(timeout=600)[0]
    assert sweep.returncode == 0, output
    assert "width=4: stopped (resumes from its checkpoint)" in output
    assert "width=6: not started (sweep stopped)" in output and not (directory / "width=6").exists()
    stopped = json.loads((directory / "width=4" / "summary.json").read_text())
    assert stopped["status"] == "stopped" and 0 < stopped["steps"] < 40

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "width=4: completed" in again.stdout and "width=6: completed" in again.stdout
    assert "resumed from" in (directory / "logs" / "width=4.log").read_text()
    for name in ("width=4", "width=6"):
        summary = json.loads((directory / name / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["steps"] == 40
