"""The generate task: it learns, samples images, evaluates, checks its recipe, and resumes exactly."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.diffusion.task_parts import bucket_ranges
from dvcore.errors import RecipeError
from dvcore.run import build_components, execute
from dvcore.seeding import eval_generator, seed_everything
from dvcore.train import checkpoint
from dvcore.train.checkpoint import from_json, to_json
from tests.conftest import make_trainer, resume_stopped_copy
from tests.testplug import make_distribution

GENERATE_RECIPE = textwrap.dedent(
    """
    experiment = "tiny_generate"
    seed = 0
    device = "cpu"
    runs_root = "RUNS_ROOT"

    [task]
    name = "generate"
    sample_steps = 4
    num_samples = 4

    [data]
    name = "digits"
    size = 8

    [model]
    name = "tiny_conv"
    width = 16

    [loss]
    name = "diffusion"
    loss_buckets = 5

    [schedule]
    name = "linear"
    num_train_timesteps = 100
    beta_end = 0.2

    [train]
    batch_size = 16
    max_steps = 30
    lr = 3e-3
    warmup_steps = 2
    log_every = 1
    num_workers = 0
    prefetch = 0

    [eval]
    batch_size = 32
    max_samples = 40

    [tracker]
    name = "none"
    """
)

# A set-level metric (no value per sample), as FID is: the distance between the mean pixel of the
# generated images and that of the real ones.
SETPLUG = textwrap.dedent(
    """
    from dvcore import hookimpl
    from dvcore.metrics import Metric


    class MeanGap(Metric):
        name = "mean_gap"
        higher_is_better = False

        def __init__(self, options=None):
            self.reset()

        def reset(self):
            self.sums = {"generated": 0.0, "real": 0.0}
            self.counts = {"generated": 0, "real": 0}

        def update(self, pred, target):
            for side, images in (("generated", pred), ("real", target)):
                if images is not None:
                    self.sums[side] += float(images.double().mean(dim=(1, 2, 3)).sum())
                    self.counts[side] += images.shape[0]
            return None

        def compute(self):
            if not all(self.counts.values()):
                return float("nan")
            generated = self.sums["generated"] / self.counts["generated"]
            return abs(generated - self.sums["real"] / self.counts["real"])


    @hookimpl
    def dvcore_register_components(registrar):
        registrar.add("metric", "mean_gap", MeanGap)
    """
)


@pytest.fixture
def generate_recipe(tmp_path):
    path = tmp_path / "generate.toml"
    path.write_text(GENERATE_RECIPE.replace("RUNS_ROOT", str(tmp_path / "runs")))
    return path


@pytest.fixture
def setplug(testplug, monkeypatch):
    site = make_distribution(testplug.parent / "setsite", "dvcore-setplug", "dvcore_setplug", SETPLUG)
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("dvcore_setplug", None)


def build(path, *overrides):
    registry = plugins.load().registry
    recipe = recipes.load(path, overrides, registry)
    seed_everything(recipe.seed)
    return recipe, build_components(recipe, registry)


def eval_batches(task, n=40, batch_size=16):
    images = torch.stack([task.datasets()["eval"][i]["image"] for i in range(n)])
    return [{"image": chunk} for chunk in images.split(batch_size)]


# ----------------------------------------------------------------------------------------------
# Training and sampling
# ----------------------------------------------------------------------------------------------


def test_training_lowers_the_diffusion_loss(testplug, generate_recipe, tmp_path):
    registry = plugins.load().registry
    trainer, tracker = make_trainer(generate_recipe, registry, tmp_path / "run")
    trainer.fit()
    train = [values for _, ctx, values in tracker.scalars if ctx == "train"]
    losses = [v["loss"] for v in train]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert all("distance" in v for v in train)  # the unweighted distance, logged beside the loss


def test_samples_are_images_in_the_unit_range_and_a_pure_function_of_the_noise(testplug, generate_recipe):
    _, comps = build(generate_recipe)
    task, model = comps.task, comps.model.eval()
    out = task.sample(model, 3, generator=torch.Generator().manual_seed(1), record=True)
    assert out.images.shape == (3, 1, 8, 8) and out.images.dtype == torch.float32
    assert out.images.min() >= 0 and out.images.max() <= 1
    assert len(out.trajectory) == 4 == len(out.timesteps)  # one entry per sampling step
    assert out.trajectory[0].x_t.shape == (3, 1, 8, 8)
    again = task.sample(model, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out.images, again.images)
    # One generator per image: image i does not depend on the batch it is drawn in.
    gens = [torch.Generator().manual_seed(s) for s in (5, 6)]
    pair = task.sample(model, 2, generator=gens)
    alone = task.sample(model, 1, generator=[torch.Generator().manual_seed(6)])
    torch.testing.assert_close(pair.images[1:], alone.images, atol=1e-6, rtol=0)


def test_eval_gives_a_sample_grid_the_loss_per_timestep_and_its_figure(testplug, generate_recipe):
    _, comps = build(generate_recipe)
    task, model = comps.task, comps.model.eval()
    rng = torch.get_rng_state()
    result = task.evaluate(model, eval_batches(task))
    assert torch.equal(torch.get_rng_state(), rng)  # eval leaves the training noise alone
    # 4 samples of 8x8 in a 2x2 grid with 1-pixel borders, as RGB
    assert result.images["samples"].shape == (3, 19, 19)
    figure = result.images["loss_per_t"]
    assert figure.shape[0] == 3 and figure.shape[1] > 100 and figure.min() >= 0 and figure.max() <= 1
    buckets = [k for k in result.scores if k.startswith("model/loss_t")]
    assert buckets == [f"model/loss_t{lo}-{hi}" for lo, hi in (("00", "19"), ("20", "39"), ("40", "59"),
                                                                ("60", "79"), ("80", "99"))]  # fmt: skip
    # The same eval twice gives the same numbers and the same grid (seeded t, noise and samples).
    again = task.evaluate(model, eval_batches(task))
    assert again.scores == result.scores
    assert torch.equal(again.images["samples"], result.images["samples"])


def test_held_out_loss_matches_the_diffusion_loss_at_the_same_t_and_noise(testplug, generate_recipe):
    _, comps = build(generate_recipe)
    task, model = comps.task, comps.model.eval()
    batches = eval_batches(task)
    result = task.evaluate(model, batches)
    # Reference: the same draws (t, then noise, per batch) from the same seeded generator.
    g = eval_generator(0, "loss")
    d = task.diffusion
    per_sample, steps = [], []
    with torch.no_grad():
        for batch in batches:
            x0 = batch["image"] * 2 - 1
            t = torch.randint(0, 100, (len(x0),), generator=g)
            noise = torch.randn(x0.shape, generator=g)
            x_t = d.schedule.add_noise(x0, noise, t)
            per_sample.append(((model(x_t, t.float()) - noise) ** 2).flatten(1).mean(1))
            steps.append(t)
    per_sample, steps = torch.cat(per_sample), torch.cat(steps)
    assert result.scores["model/loss"] == pytest.approx(float(per_sample.mean()), rel=1e-5)
    first = per_sample[steps < 20]
    assert result.scores["model/loss_t00-19"] == pytest.approx(float(first.mean()), rel=1e-5)


def test_set_level_metrics_score_generated_images_against_the_eval_images(setplug, generate_recipe):
    _, comps = build(generate_recipe, 'eval.metrics=["mean_gap"]', "task.metric_samples=12")
    task, model = comps.task, comps.model.eval()
    result = task.evaluate(model, eval_batches(task))
    generated = task.sample(model, 12, generator=eval_generator(0, "metrics")).images
    real = torch.cat([b["image"] for b in eval_batches(task)])
    expected = abs(float(generated.double().mean()) - float(real.double().mean()))
    assert result.scores["model/mean_gap"] == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------------------------
# Recipe checks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss=pixel"], "loss.name: generate by diffusion needs the 'diffusion' loss, got 'pixel'"),
        (
            ["task.prediction_type=v"],
            "task.prediction_type: expected the loss's target 'eps' (loss.target), got 'v'",
        ),
        (
            ["schedule.rescale_zero_terminal_snr=true"],
            "loss.target: expected 'v' or 'x0' with a zero-terminal",
        ),
        (['eval.metrics=["mae"]'], "eval.metrics[0]: 'mae' compares each output with its own target"),
        (["data.name=moving_shapes", "data.size=16"], "data.name: 'moving_shapes' gives no images"),
    ],
)
def test_bad_recipes_are_reported_before_training(testplug, generate_recipe, overrides, message):
    with pytest.raises(RecipeError) as info:
        build(generate_recipe, *overrides)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems


def test_schedule_and_sampler_default_to_linear_and_ddim(testplug, generate_recipe):
    text = generate_recipe.read_text()
    start = text.index("[schedule]")
    generate_recipe.write_text(text[:start] + text[text.index("[train]") :])
    _, comps = build(generate_recipe)
    d = comps.task.diffusion
    assert d.schedule.name == "linear" and len(d.schedule) == 1000
    assert d.sampler.name == "ddim" and d.prediction_type == "eps"
    assert comps.task.channels() == (1, 1)


# ----------------------------------------------------------------------------------------------
# Checkpointed state
# ----------------------------------------------------------------------------------------------


def test_task_state_survives_json(testplug, generate_recipe):
    _, comps = build(generate_recipe, "loss.timestep_sampling=importance", "loss.importance_history=2")
    task = comps.task
    task.diffusion.loss.sampler_for(task.diffusion.schedule).update(torch.tensor([3, 3, 7]), torch.rand(3))
    task.noise.generator(torch.device("cpu"))
    state = recipes_json_round_trip(task.state_dict())
    _, other = build(generate_recipe, "loss.timestep_sampling=importance", "loss.importance_history=2")
    other.task.load_state_dict(state)
    a, b = task.diffusion.loss.timestep_sampler, other.task.diffusion.loss.timestep_sampler
    assert torch.equal(a.losses, b.losses) and torch.equal(a.counts, b.counts)
    ga, gb = task.noise.generator(torch.device("cpu")), other.task.noise.generator(torch.device("cpu"))
    assert torch.equal(torch.rand(4, generator=ga), torch.rand(4, generator=gb))


def recipes_json_round_trip(state):
    return json.loads(json.dumps(state))


def test_to_json_round_trips_tensors_exactly():
    value = {"a": torch.randn(3, 2, dtype=torch.float64), "b": [torch.arange(4), 1.5]}
    back = from_json(recipes_json_round_trip(to_json(value)))
    assert torch.equal(back["a"], value["a"]) and back["a"].dtype == torch.float64
    assert torch.equal(back["b"][0], value["b"][0]) and back["b"][1] == 1.5


def test_resumed_generate_run_matches_an_uninterrupted_one_exactly(testplug, generate_recipe, tmp_path):
    registry = plugins.load().registry
    overrides = [
        "train.max_steps=12",
        "train.checkpoint_every=5",
        "train.eval_every=5",  # evals in between must not disturb the training noise
        "train.log_every=5",
        "loss.timestep_sampling=importance",
        "loss.importance_history=1",  # 100 steps x 1 loss: the importance sampler warms up mid-run
        "train.batch_size=32",
    ]
    recipe = recipes.load(generate_recipe, overrides, registry)
    full = execute(recipe, registry, run_dir=tmp_path / "full", progress=False)
    later = ("step_00000010", "step_00000012")
    resumed = resume_stopped_copy(tmp_path / "full", tmp_path / "part", later, registry)
    assert resumed["steps"] == full["steps"] == 12
    a_tensors, a_state = checkpoint.load(tmp_path / "full" / "checkpoints" / "step_00000012")
    b_tensors, b_state = checkpoint.load(tmp_path / "part" / "checkpoints" / "step_00000012")
    for group in ("model", "optimizer"):
        for key in a_tensors[group]:
            assert torch.equal(a_tensors[group][key], b_tensors[group][key]), (group, key)
    assert a_state["task"] == b_state["task"]
    assert a_state["task"]["loss"]["timestep_sampler"]["counts"]["data"].count(0) < 100  # it has history
    assert resumed["eval"] == full["eval"]


def test_bucket_names_cover_the_training_steps_without_gaps():
    class PerT:
        num_train_timesteps, num_buckets = 1000, 3

    assert list(bucket_ranges(PerT)) == [("000", "333"), ("334", "666"), ("667", "999")]
