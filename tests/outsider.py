"""A fresh virtual environment that sees this interpreter's packages, for installing plugins as an
outsider
does.

``python -m venv`` gives it its own pip; a ``.pth`` line adds this interpreter's site-packages
(torch, dvcore and its dependencies) behind its own, so nothing is downloaded. Its own
setuptools is removed so that ``pip install --no-build-isolation`` builds with ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path


def make_venv(path: Path) -> Path:
    """Create the venv at ``path``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    host = sysconfig.get_paths()["purelib"]
    Path(site, "_outsider_host.pth").write_text(f"import site; site.addsitedir({host!r})\n")
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], capture_output=True)
    return python


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    """``pip install --no-deps --no-build-isolation ARGS`` with the venv's pip, offline."""
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_CONSTRAINT", None)  # the constraints name torch, which is not reinstalled here
    return subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def dvcore(
    python: Path, *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the ``dvcore`` command with the venv's python."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [str(python), "-c", "import sys; from dvcore.cli import main; sys.argv[0] = 'dvcore'; main()", *args],
        capture_output=True, text=True, cwd=cwd, env=full_env, check=False, timeout=900,
    )  # fmt: skip
