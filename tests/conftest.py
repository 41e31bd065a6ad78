"""Shared fixtures and helpers of the core's tests (one place; the ones plugins share are in
``dvcore.testing.fixtures``): a throw-away third-party plugin distribution installed on sys.path
per test, the tiny recipe, a trainer built from a recipe file, and Aim's reindex."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

import dvcore.plugins
from dvcore import recipe as recipes
from dvcore.build import build_components
from dvcore.registry import Registry
from dvcore.run import execute
from dvcore.seeding import seed_everything
from dvcore.testing.fixtures import Recording
from dvcore.track.base import Tracker
from dvcore.train.trainer import Trainer
from tests.testplug import TESTPLUG, make_distribution


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Forget the process-wide plugin cache before and after the test."""
    dvcore.plugins.plugins.cache_clear()
    yield
    dvcore.plugins.plugins.cache_clear()


@pytest.fixture
def testplug(tmp_path, monkeypatch, fresh_plugins) -> Path:
    """The throw-away distribution 'dvcore-testplug' on sys.path; returns its site directory."""
    site = make_distribution(tmp_path / "site", "dvcore-testplug", "dvcore_testplug", TESTPLUG)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    yield site
    sys.modules.pop("dvcore_testplug", None)


TINY_RECIPE = textwrap.dedent(
    """
    experiment = "tiny"
    seed = 0
    device = "cpu"
    runs_root = "RUNS_ROOT"

    [task]
    name = "interpolate"

    [data]
    name = "moving_shapes"
    size = 16
    num_train = 64
    num_eval = 16

    [model]
    name = "tiny_conv"
    width = 8

    [loss]
    name = "pixel"

    [train]
    batch_size = 8
    max_steps = 20
    lr = 3e-3
    warmup_steps = 2
    log_every = 5
    num_workers = 0
    prefetch = 0

    [eval]
    batch_size = 8
    metrics = ["mae"]
    baselines = ["copy", "blend"]
    num_images = 2

    [tracker]
    name = "none"
    """
)


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RECIPE.replace("RUNS_ROOT", str(tmp_path / "runs")))
    return path


def make_trainer(
    path: Path, registry: Registry, run_dir: Path, *overrides: str, tracker: Tracker | None = None
) -> tuple[Trainer, Any]:
    """A trainer for the recipe at ``path`` (seeded as ``dvcore run`` seeds it) and its tracker
    (a ``Recording`` unless one is given)."""
    recipe = recipes.load(path, overrides, registry)
    seed_everything(recipe.seed)
    comps = build_components(recipe, registry)
    tracker = tracker or Recording()
    trainer = Trainer(
        recipe,
        comps.task,
        comps.model,
        run_dir=run_dir,
        tracker=tracker,
        device=torch.device("cpu"),
        progress=False,
    )
    return trainer, tracker


def resume_stopped_copy(run_dir: Path, copy_dir: Path, later: tuple[str, ...], registry: Registry) -> Any:
    """Copy the finished run ``run_dir`` to ``copy_dir``, drop its ``later`` checkpoints (a run
    stopped earlier) and resume the copy with ``dvcore run --resume``'s path; its summary."""
    shutil.copytree(run_dir, copy_dir)
    for step in later:
        shutil.rmtree(copy_dir / "checkpoints" / step)
    again = recipes.load(copy_dir / "recipe.toml", [], registry)
    return execute(again, registry, run_dir=copy_dir, resume=True, progress=False)


def reindex(repo: Path) -> None:
    """Aim's ``storage reindex`` on ``repo``, so a reader sees runs another process just wrote."""
    aim_cli = Path(sys.executable).with_name("aim")
    subprocess.run(
        [str(aim_cli), "storage", "--repo", str(repo), "reindex", "-y"], check=True, capture_output=True
    )
