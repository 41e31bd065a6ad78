"""A scaffolded package of every kind passes its own tests right after `pip install -e` in a fresh venv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dvcore.scaffold import KINDS, new_plugin
from tests.outsider import make_venv, pip


@pytest.mark.slow
@pytest.mark.timeout(1800)  # several installs and dvcore processes on a busy 2-core machine
def test_a_scaffolded_plugin_of_every_kind_passes_its_tests_in_a_fresh_venv(tmp_path: Path):
    roots = [new_plugin(f"dvcore-my-{kind}", kind, tmp_path / "src") for kind in KINDS]
    python = make_venv(tmp_path / "venv")
    installed = pip(python, *(arg for root in roots for arg in ("-e", str(root))))
    assert installed.returncode == 0, installed.stderr[-3000:]
    result = subprocess.run(
        [str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider", *(str(r / "tests") for r in roots)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for kind in KINDS:  # every kind's tests ran, and passed
        assert f"test_my_{kind}.py::" in result.stdout and "FAILED" not in result.stdout, kind
