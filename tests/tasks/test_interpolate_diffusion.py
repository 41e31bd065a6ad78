"""Interpolation by diffusion: what the backbone sees, what eval scores, which recipes are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.errors import RecipeError
from dvcore.run import build_components
from dvcore.seeding import generator, seed_everything
from dvcore.tasks.interpolate import coefficients_at, split_clip
from tests.conftest import make_trainer

DIFFUSION = [
    "task.mode=diffusion",
    "task.sample_steps=3",
    "loss=diffusion",
    "loss.loss_buckets=4",
    "schedule.name=linear",
    "schedule.num_train_timesteps=100",
    "schedule.beta_end=0.2",
]


def build(path, *overrides):
    registry = plugins.load().registry
    recipe = recipes.load(path, [*DIFFUSION, *overrides], registry)
    seed_everything(recipe.seed)
    return build_components(recipe, registry)


def eval_batches(task, n=6, batch_size=4):
    frames = torch.stack([task.datasets()["eval"][i]["frames"] for i in range(n)])
    return [{"frames": chunk} for chunk in frames.split(batch_size)]


class Recorder(nn.Module):
    """Returns a fixed function of its input and remembers the input."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.out_channels = out_channels
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.inputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x, t):
        self.inputs.append((x.clone(), t.clone()))
        return self.scale * x[:, : self.out_channels]


# ----------------------------------------------------------------------------------------------
# Training and eval
# ----------------------------------------------------------------------------------------------


def test_diffusion_mode_trains_and_scores_samples_beside_the_baselines(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    overrides = [*DIFFUSION, "task.samples_per_clip=2", "train.log_every=1", "eval.max_samples=8"]
    trainer, tracker = make_trainer(tiny_recipe, registry, tmp_path / "run", *overrides)
    result = trainer.fit()
    losses = [v["loss"] for _, ctx, v in tracker.scalars if ctx == "train"]
    assert len(losses) == 20 and sum(losses[-5:]) < sum(losses[:5])
    assert {"model/mae", "model/mae_std", "copy/mae", "blend/mae", "model/loss"} <= set(result.scores)
    assert [k for k in result.scores if k.startswith("model/loss_t")] == [
        "model/loss_t00-24",
        "model/loss_t25-49",
        "model/loss_t50-74",
        "model/loss_t75-99",
    ]
    assert result.scores["model/mae_std"] > 0  # two different samples per clip
    _, images = tracker.images[-1]
    assert images["clips"].shape == (3, 2 * 17 + 1, 7 * 17 + 1)  # as in regression: 2 clips x 7 panels
    assert images["loss_per_t"].shape[0] == 3


def test_scores_are_the_mean_over_samples_not_the_best(testplug, tiny_recipe):
    comps = build(tiny_recipe, "task.samples_per_clip=3")
    task, model = comps.task, comps.model.eval()
    batches = eval_batches(task)
    result = task.evaluate(model, batches)
    # Reference: the same samples (sample s of clip i from its own generator), scored by hand.
    per_clip, first = [], 0
    for batch in batches:
        context, target = split_clip(batch["frames"])
        clips = range(first, first + len(target))
        samples = [
            task.sample_middle(
                model, context, generator=[generator(0, "interpolate", i, s) for i in clips]
            ).x0
            for s in range(3)
        ]
        per_clip.append(torch.stack([(s - target).abs().flatten(1).mean(1) for s in samples]))  # (3, B)
        first += len(target)
    mae = torch.cat(per_clip, dim=1).double()  # (3, clips)
    assert result.scores["model/mae"] == pytest.approx(float(mae.mean()), rel=1e-6)
    assert result.scores["model/mae_std"] == pytest.approx(float(mae.std(dim=0).mean()), rel=1e-6)
    assert result.scores["model/mae"] > float(mae.min(dim=0).values.mean())  # not best-of-N


# ----------------------------------------------------------------------------------------------
# What the backbone sees
# ----------------------------------------------------------------------------------------------


def test_the_noisy_middle_frame_goes_between_the_context_frames(testplug, tiny_recipe):
    task = build(tiny_recipe).task
    assert task.channels() == (5 * 3, 3)
    model = Recorder(3)
    frames = task.datasets()["train"][0]["frames"][None]  # (1, 5, 3, 16, 16)
    context, _ = split_clip(frames)
    x_t = torch.randn(1, 3, 16, 16)
    task.denoiser(model, context * 2 - 1, None)(x_t, torch.tensor([40.0]))
    x, t = model.inputs[-1]
    expected = torch.cat([frames[:, :2] * 2 - 1, x_t[:, None], frames[:, 3:] * 2 - 1], dim=1)
    assert torch.equal(x, expected.reshape(1, 15, 16, 16)) and t.tolist() == [40.0]


def test_input_noise_noises_the_context_at_the_same_step(testplug, tiny_recipe):
    task = build(tiny_recipe, "task.input_noise=true").task
    model = Recorder(3)
    context = torch.rand(2, 4, 3, 16, 16) * 2 - 1
    noise = torch.randn_like(context)
    t = torch.tensor([7.0, 93.0])
    task.denoiser(model, context, noise)(torch.zeros(2, 3, 16, 16), t)
    x = model.inputs[-1][0].reshape(2, 5, 3, 16, 16)
    schedule = task.diffusion.schedule
    for i in (0, 1, 3, 4):  # every frame but the middle one
        j = i if i < 2 else i - 1
        expected = schedule.add_noise(context[:, j], noise[:, j], t.long())
        torch.testing.assert_close(x[:, i], expected, atol=1e-6, rtol=0)


def test_fractional_steps_use_the_interpolated_sigma(testplug, tiny_recipe):
    schedule = build(tiny_recipe).task.diffusion.schedule
    like = torch.zeros(2, 3, 1, 1)
    a, s = coefficients_at(schedule, torch.tensor([10.0, 50.0]), like)
    ta, ts = schedule.coefficients(torch.tensor([10, 50]), like)
    assert torch.equal(a, ta) and torch.equal(s, ts)
    a, s = coefficients_at(schedule, torch.tensor([10.5]), like[:1])
    sigma = float(schedule.sigma_at(torch.tensor([10.5])))
    assert float(s / a) == pytest.approx(sigma, rel=1e-6)  # sigma = sqrt(1 - ab) / sqrt(ab)
    assert float(a**2 + s**2) == pytest.approx(1.0, abs=1e-6)  # still variance preserving
    a11, _ = schedule.coefficients(torch.tensor([11]), like[:1])
    assert float(ta[0]) > float(a) > float(a11)  # between its neighbours


def test_without_the_middle_frame_the_sample_is_the_last_x0_prediction(testplug, tiny_recipe):
    comps = build(tiny_recipe, "task.with_middle=false", "loss.target=x0")
    task, model = comps.task, comps.model.eval()
    assert task.channels() == (4 * 3, 3)
    frames = torch.stack([task.datasets()["eval"][i]["frames"] for i in range(2)])
    context, _ = split_clip(frames)
    out = task.sample_middle(model, context, generator=torch.Generator().manual_seed(0))
    # DDIM (eta 0) ends at alpha_bar = 1, where x = the clipped x0 prediction of its last call.
    d = task.diffusion
    t_last = float(d.sampler.timesteps(d.schedule, 3)[-1])
    with torch.no_grad():
        x0 = model((context * 2 - 1).reshape(2, 12, 16, 16), torch.full((2,), t_last)).clamp(-1, 1)
    torch.testing.assert_close(out.x0, (x0 + 1) / 2, atol=1e-6, rtol=0)


def test_a_recorded_sample_keeps_every_step_as_images(testplug, tiny_recipe):
    comps = build(tiny_recipe, "task.input_noise=true")
    task, model = comps.task, comps.model.eval()
    context, _ = split_clip(torch.stack([task.datasets()["eval"][i]["frames"] for i in range(2)]))
    out = task.sample_middle(model, context, generator=torch.Generator().manual_seed(0), record=True)
    again = task.sample_middle(model, context, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.x0, again.x0) and out.x0.shape == (2, 3, 16, 16)
    assert len(out.trajectory) == 3 == len(out.timesteps)
    for step in out.trajectory:
        assert step.x_t.shape == step.pred_x0.shape == (2, 3, 16, 16)
        assert step.x_t.min() >= 0 and step.x_t.max() <= 1


# ----------------------------------------------------------------------------------------------
# Recipe checks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss=pixel"], "loss.name: interpolation by diffusion needs the 'diffusion' loss, got 'pixel'"),
        (["task.with_middle=false"], "loss.target: expected 'x0' with task.with_middle = false"),
        (["task.prediction_type=x0"], "task.prediction_type: expected the loss's target 'eps'"),
    ],
)
def test_bad_diffusion_recipes_are_reported(testplug, tiny_recipe, overrides, message):
    with pytest.raises(RecipeError) as info:
        build(tiny_recipe, *overrides)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems


def test_diffusion_options_are_refused_in_regression_mode(testplug, tiny_recipe):
    registry = plugins.load().registry
    with pytest.raises(RecipeError) as info:
        recipes.load(tiny_recipe, ["task.input_noise=true", "task.samples_per_clip=4"], registry)
    assert info.value.problems == [
        "task.input_noise: expected false with mode = 'regression' (a diffusion option), got true",
        "task.samples_per_clip: expected 1 with mode = 'regression' (a diffusion option), got 4",
    ]


def test_regression_mode_takes_only_the_context(testplug, tiny_recipe):
    registry = plugins.load().registry
    recipe = recipes.load(tiny_recipe, [], registry)
    task = build_components(recipe, registry).task
    assert task.channels() == (4 * 3, 3) and task.diffusion is None and task.state_dict() == {}
