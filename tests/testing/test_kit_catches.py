"""The conformance kit fails components that break their contract, naming the broken rule."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import torch
from torch import nn

from dvcore.api import MeanMetric, NoOptions, TrackerBase, gt, opt
from dvcore.diffusion.samplers.ddim import DDIMOptions, build_ddim
from dvcore.testing import (
    ConformanceError,
    TinyBackbone,
    check_backbone,
    check_dataset,
    check_loss,
    check_metric,
    check_options,
    check_sampler,
    check_schedule,
    check_tracker,
)


def fails(check, *args, rule: str, **kwargs) -> str:
    with pytest.raises(ConformanceError) as info:
        check(*args, **kwargs)
    assert rule in str(info.value), str(info.value)
    return str(info.value)


# -- options ------------------------------------------------------------------------------------


def test_options_without_docs_mutable_or_with_bad_validators_fail():
    @attrs.define
    class Mutable:
        width: int = opt(8, "hidden channels", gt(0))

    fails(check_options, Mutable, rule="options are frozen")

    @attrs.frozen
    class Undocumented:
        width: int = 8

    fails(check_options, Undocumented, rule="no doc for width")

    def type_error(_inst, _attr, value):
        if value < 0:
            raise TypeError("negative")

    @attrs.frozen
    class WrongError:
        width: int = opt(8, "hidden channels", type_error)

    fails(check_options, WrongError, rule="raised TypeError, expected ValueError")

    def named(_inst, attribute, value):
        if value < 0:
            raise ValueError(f"{attribute.name} must be >= 0")

    @attrs.frozen
    class Named:
        width: int = opt(8, "hidden channels", named)

    fails(check_options, Named, rule="starts with the field name")

    @attrs.frozen
    class Raising:
        width: int = opt(8, "hidden channels", gt(0))

        def problems(self):
            yield "width", f"{1 / (self.width - 1)}"

    fails(check_options, Raising, rule="problems() never raises")


# -- backbone -----------------------------------------------------------------------------------


def tiny(options, *, in_channels, out_channels):
    return TinyBackbone(in_channels, out_channels)


def test_a_correct_backbone_passes():
    check_backbone(tiny)


def test_a_backbone_that_ignores_t_fails_unless_declared():
    class NoT(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

        def forward(self, x, t):
            return self.conv(x)

    def build(options, *, in_channels, out_channels):
        return NoT(in_channels, out_channels)

    fails(check_backbone, build, rule="output depends on t")
    check_backbone(build, t_dependent=False)


def test_a_backbone_mixing_the_batch_fails():
    class Mixer(TinyBackbone):
        def forward(self, x, t):
            return super().forward(x - x.mean(0, keepdim=True), t)

    fails(
        check_backbone,
        lambda o, *, in_channels, out_channels: Mixer(in_channels, out_channels),
        rule="samples do not depend on the rest of the batch",
    )


def test_a_backbone_off_the_default_device_or_with_unused_parameters_fails():
    class OnCpu(TinyBackbone):
        def __init__(self, c_in, c_out):
            super().__init__(c_in, c_out)
            self.bias = nn.Parameter(torch.zeros(1, device="cpu"))

    message = fails(
        check_backbone,
        lambda o, *, in_channels, out_channels: OnCpu(in_channels, out_channels),
        rule="builds and runs on the meta device",
    )
    assert "no gradient for bias" in message


def test_a_backbone_with_the_wrong_output_shape_fails():
    fails(
        check_backbone,
        lambda o, *, in_channels, out_channels: TinyBackbone(in_channels, out_channels + 1),
        rule="expected (2, 3 or 6, 16, 16)",
    )


# -- dataset ------------------------------------------------------------------------------------


def test_datasets_with_bytes_or_randomness_fail():
    def bytes_data(options, *, split, seed):
        return [{"image": torch.full((3, 4, 4), 200, dtype=torch.uint8)}] * 3

    fails(check_dataset, bytes_data, rule="expected float32")

    def unseeded(options, *, split, seed):
        return [{"image": torch.rand(3, 4, 4)} for _ in range(3)]

    fails(check_dataset, unseeded, rule="the same seed gives the same samples")


# -- metric -------------------------------------------------------------------------------------


def test_a_metric_that_forgets_earlier_batches_fails():
    class LastBatch(MeanMetric):
        name = "last"
        higher_is_better = False

        def per_sample(self, pred, target):
            return (pred - target).abs().flatten(1).mean(1).double()

        def update(self, pred, target):
            self.reset()
            return super().update(pred, target)

    fails(check_metric, lambda o: LastBatch(), rule="the score does not depend on the batching")


def test_a_metric_pointing_the_wrong_way_fails():
    class Backwards(MeanMetric):
        name = "backwards"
        higher_is_better = True  # but it is an error

        def per_sample(self, pred, target):
            return (pred - target).abs().flatten(1).mean(1).double()

    fails(check_metric, lambda o: Backwards(), rule="a perfect prediction scores better")


# -- loss, schedule -------------------------------------------------------------------------------


def test_a_detached_regression_loss_fails():
    class Detached:
        kind = "regression"

        def __call__(self, pred, target):
            return (pred.detach() - target).square().mean()

    fails(check_loss, lambda o: Detached(), rule="no gradient reaches pred")


def test_a_schedule_whose_noise_falls_with_t_fails():
    class Reversed:
        name = "reversed"
        betas = torch.linspace(1e-4, 0.02, 10, dtype=torch.float64)
        alphas_cumprod = torch.cumprod(1 - betas, 0).flip(0)
        num_train_timesteps = 10

        def add_noise(self, x0, noise, t):
            return x0

    message = fails(check_schedule, lambda o: Reversed(), rule="alpha_bar rises somewhere")
    assert "alpha_bar != cumprod(1 - beta)" in message


# -- sampler ------------------------------------------------------------------------------------


def test_the_ddim_sampler_passes_and_a_broken_one_fails():
    check_sampler(build_ddim, DDIMOptions())

    class WrongSign:
        """DDIM's update with the predicted noise subtracted instead of added."""

        def __init__(self):
            self.inner = build_ddim(DDIMOptions())

        def timesteps(self, schedule, num_steps):
            return self.inner.timesteps(schedule, num_steps)

        def sample(self, model_fn, noise, schedule, **kwargs):
            return self.inner.sample(lambda x, t: -model_fn(x, t), noise, schedule, **kwargs)

    fails(check_sampler, lambda o: WrongSign(), rule="returns the data under its exact eps denoiser")


def test_a_sampler_drawing_from_the_global_rng_fails():
    class Global:
        def __init__(self):
            self.inner = build_ddim(DDIMOptions())

        def timesteps(self, schedule, num_steps):
            return self.inner.timesteps(schedule, num_steps)

        def sample(self, model_fn, noise, schedule, **kwargs):
            torch.rand(1)
            return self.inner.sample(model_fn, noise, schedule, **kwargs)

    fails(check_sampler, lambda o: Global(), rule="global RNG untouched")


# -- tracker ------------------------------------------------------------------------------------


def test_a_tracker_refusing_images_fails(tmp_path: Path):
    class NoImages(TrackerBase):
        def log_images(self, images, step, context="eval"):
            raise RuntimeError("images are not supported")

    check_tracker(lambda o, *, run: TrackerBase(), NoOptions, directory=tmp_path / "ok")
    fails(
        check_tracker,
        lambda o, *, run: NoImages(),
        directory=tmp_path / "bad",
        rule="images are not supported",
    )
