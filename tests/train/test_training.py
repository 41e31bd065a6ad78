"""The trainer: it learns, it checkpoints, and a resumed run continues exactly."""

from __future__ import annotations

import torch

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.run import execute
from dvcore.train import checkpoint
from tests.conftest import make_trainer, resume_stopped_copy


def test_twenty_steps_lower_the_loss_and_eval_is_logged(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    trainer, tracker = make_trainer(tiny_recipe, registry, tmp_path / "run", "train.log_every=1")
    result = trainer.fit()
    losses = [v["loss"] for step, ctx, v in tracker.scalars if ctx == "train"]
    assert len(losses) == 20
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert {"model/mae", "copy/mae", "blend/mae", "model/loss"} <= set(result.scores)
    step, images = tracker.images[-1]
    assert step == 20 and images["clips"].shape[0] == 3  # (3, H', W') grid
    # two clips shown, each a row of 4 context + prediction + target + error panels of 16 px
    assert images["clips"].shape[1:] == (2 * 17 + 1, 7 * 17 + 1)


def test_checkpoint_round_trip_restores_model_and_optimizer(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    trainer, _ = make_trainer(tiny_recipe, registry, tmp_path / "a", "train.max_steps=3")
    trainer.fit()
    tensors, state = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "a" / "checkpoints")[-1])
    fresh, _ = make_trainer(tiny_recipe, registry, tmp_path / "b", "train.max_steps=3", "seed=1")
    fresh.restore(tensors, state)
    assert fresh.step == 3
    for (name, a), b in zip(
        trainer.model.state_dict().items(), fresh.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    sa, sb = trainer.optimizer.state_dict(), fresh.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for i in sa["state"]:
        for key in sa["state"][i]:
            assert torch.equal(sa["state"][i][key], sb["state"][i][key])


def test_resumed_run_matches_an_uninterrupted_one_exactly(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    recipe = recipes.load(tiny_recipe, ["train.max_steps=12", "train.checkpoint_every=5"], registry)
    full = execute(recipe, registry, run_dir=tmp_path / "full", progress=False)
    # The same run, stopped right after its step-5 checkpoint (the epoch of 8 batches is crossed later).
    later = ("step_00000010", "step_00000012")
    resumed = resume_stopped_copy(tmp_path / "full", tmp_path / "part", later, registry)
    assert resumed["steps"] == full["steps"] == 12
    a = checkpoint.load(tmp_path / "full" / "checkpoints" / "step_00000012")[0]
    b = checkpoint.load(tmp_path / "part" / "checkpoints" / "step_00000012")[0]
    for group in ("model", "optimizer"):
        for key in a[group]:
            assert torch.equal(a[group][key], b[group][key]), (group, key)
    assert resumed["eval"] == full["eval"]
