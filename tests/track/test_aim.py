"""The Aim tracker records a run that Aim itself can read back (after indexing, as `aim up` does)."""

from __future__ import annotations

import shutil

import pytest

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.run import execute
from tests.conftest import reindex

aim = pytest.importorskip("aim")


def metric_steps(run, name: str, context: dict) -> dict[int, float]:
    for m in run.metrics():
        if m.name == name and m.context.to_dict() == context:
            steps, (values, *_) = m.data.items_list()  # values, epochs, timestamps
            return dict(zip(steps, values, strict=True))
    raise KeyError(name)


def test_run_is_tracked_and_resume_continues_the_same_aim_run(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    overrides = ["tracker.name='aim'", "train.max_steps=6", "train.checkpoint_every=3", "train.log_every=1"]
    recipe = recipes.load(tiny_recipe, overrides, registry)
    summary = execute(recipe, registry, run_dir=tmp_path / "runs" / "tiny" / "r", progress=False)
    repo = tmp_path / "runs" / ".aim"
    reindex(repo)
    run = aim.Repo.from_path(str(repo)).get_run(summary["tracker_run_id"])
    assert run is not None and run.experiment == "tiny" and run.name == "r"
    assert run["hparams"]["model"] == {"name": "tiny_conv", "width": 8, "depth": 2}
    assert sorted(metric_steps(run, "loss", {"subset": "train"})) == [1, 2, 3, 4, 5, 6]
    assert metric_steps(run, "blend/mae", {"subset": "eval"})[6] == pytest.approx(
        summary["eval"]["blend/mae"]
    )
    from aim.storage.context import Context

    images = run.get_image_sequence("clips", Context({"subset": "eval"}))
    steps, (values, *_) = images.data.items_list()
    assert steps == [6] and values[0].to_pil_image().size == (7 * 17 + 1, 2 * 17 + 1)  # (W, H) of the grid

    # Stop after step 3, resume: the same Aim run continues, without duplicated or missing steps.
    shutil.rmtree(tmp_path / "runs" / "tiny" / "r" / "checkpoints" / "step_00000006")
    resumed = execute(
        recipes.load(tmp_path / "runs" / "tiny" / "r" / "recipe.toml", [], registry),
        registry,
        run_dir=tmp_path / "runs" / "tiny" / "r",
        resume=True,
        progress=False,
    )
    assert resumed["tracker_run_id"] == summary["tracker_run_id"]
    reindex(repo)
    runs = list(aim.Repo.from_path(str(repo)).iter_runs())
    assert len(runs) == 1
    assert sorted(metric_steps(runs[0], "loss", {"subset": "train"})) == [1, 2, 3, 4, 5, 6]
