"""Aim for browsing many runs: name, description, tags, the resolved recipe as text; resume with tracker
none.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import execute

aim = pytest.importorskip("aim")

# after the skip: tests.test_aim skips itself at import when aim is missing (the core env)
from tests.conftest import reindex  # noqa: E402


def test_the_aim_run_has_the_description_tags_and_recipe_text(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    (tmp_path / "described.toml").write_text("# Tiny, for the tracker.\n" + tiny_recipe.read_text())
    overrides = ["tracker.name='aim'", "train.max_steps=2", 'tags=["sweep:s", "model.width=8"]']
    recipe = recipes.load(tmp_path / "described.toml", overrides, registry)
    summary = execute(recipe, registry, run_dir=tmp_path / "runs" / "tiny" / "width=8", progress=False)
    reindex(tmp_path / "runs" / ".aim")
    run = aim.Repo.from_path(str(tmp_path / "runs" / ".aim")).get_run(summary["tracker_run_id"])
    assert run.name == "width=8" and run.description == "Tiny, for the tracker."
    assert sorted(run.props.tags) == ["model.width=8", "sweep:s", "tiny"]
    from aim.storage.context import Context

    texts = run.get_text_sequence("recipe", Context({"subset": "run"}))
    steps, (values, *_) = texts.data.items_list()
    assert steps == [0] and "[model]" in values[0].data  # the resolved recipe, as TOML


def test_resume_with_tracker_none(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    overrides = ["tracker.name='aim'", "train.max_steps=4", "train.checkpoint_every=2"]
    run_dir = tmp_path / "runs" / "tiny" / "r"
    execute(recipes.load(tiny_recipe, overrides, registry), registry, run_dir=run_dir, progress=False)
    shutil.rmtree(run_dir / "checkpoints" / "step_00000004")
    result = CliRunner().invoke(main, ["run", "--resume", str(run_dir), "--set", "tracker.name=none"])
    assert result.exit_code == 0, result.output
    assert "resumed from" in result.output
