"""Samplers: behaviour that needs no reference implementation."""

from __future__ import annotations

import math

import pytest
import torch

from dvcore.diffusion.prediction import v_from
from dvcore.diffusion.samplers import (
    DDIMOptions,
    DDIMSampler,
    DDPMOptions,
    DDPMSampler,
    DPMSolverOptions,
    DPMSolverSampler,
    EulerSampler,
    HeunSampler,
    KarrasOptions,
)
from dvcore.diffusion.samplers.base import dynamic_threshold
from dvcore.diffusion.schedules import (
    CosineScheduleOptions,
    LinearScheduleOptions,
    build_cosine,
    build_linear,
)

SAMPLERS = {
    "ddpm": lambda: DDPMSampler(DDPMOptions()),
    "ddim": lambda: DDIMSampler(DDIMOptions()),
    "ddim-eta1": lambda: DDIMSampler(DDIMOptions(eta=1.0)),
    "dpmsolver++": lambda: DPMSolverSampler(DPMSolverOptions()),
    "euler": lambda: EulerSampler(KarrasOptions()),
    "euler-karras": lambda: EulerSampler(KarrasOptions(use_karras_sigmas=True)),
    "heun": lambda: HeunSampler(KarrasOptions()),
}


def sigma_log_linear(schedule, t):
    """sigma at fractional t, interpolated linearly in log sigma: the inverse of timestep_at_sigma."""
    log_sigma = schedule.sigmas.log()
    lo = t.floor().long().clamp(max=len(schedule) - 2)
    return torch.exp(log_sigma[lo] + (t - lo) * (log_sigma[lo + 1] - log_sigma[lo]))


def oracle(x0, schedule, prediction_type, log_linear=False):
    """A model that knows the single data point x0: its exact eps / x0 / v at any (x_t, t).

    At fractional t it reads sigma the way the sampler placed it: linear in t (Euler, Heun), or
    linear in log sigma (Karras sigmas, whose t come from ``timestep_at_sigma``).
    """

    def model_fn(x_t, t):
        t = t.double()
        sigma = sigma_log_linear(schedule, t) if log_linear else schedule.sigma_at(t)
        ab = 1 / (1 + sigma**2)  # alpha_bar at (fractional) training steps
        a = ab.sqrt().to(x_t.dtype)[:, None, None, None]
        s = (1 - ab).sqrt().to(x_t.dtype)[:, None, None, None]
        eps = (x_t - a * x0) / s
        return {"eps": eps, "x0": x0.expand_as(x_t), "v": v_from(x0, eps, a, s)}[prediction_type]

    return model_fn


@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_an_exact_denoiser_of_one_point_leads_every_sampler_to_that_point(name, prediction_type):
    schedule = build_cosine(CosineScheduleOptions())
    x0 = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.6 - 0.8
    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for n in (1, 7, 20):
        result = SAMPLERS[name]().sample(
            oracle(x0, schedule, prediction_type, log_linear=name.endswith("karras")),
            noise,
            schedule,
            num_steps=n,
            prediction_type=prediction_type,
            generator=torch.Generator().manual_seed(2),
            record=True,
        )
        torch.testing.assert_close(result.x0, x0, atol=1e-7, rtol=0)
        for step in result.trajectory:
            torch.testing.assert_close(step.pred_x0, x0, atol=1e-6, rtol=0)


def test_zero_terminal_snr_with_v_prediction_recovers_the_point():
    schedule = build_linear(LinearScheduleOptions(rescale_zero_terminal_snr=True))
    x0 = torch.full((1, 1, 2, 2), 0.3, dtype=torch.float64)
    noise = torch.randn(1, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for name in ("ddpm", "ddim", "dpmsolver++", "euler", "heun"):
        sampler = SAMPLERS[name]()
        if name in ("ddpm", "ddim"):
            sampler.options = type(sampler.options)(timestep_spacing="trailing")  # start at SNR 0
        result = sampler.sample(oracle(x0, schedule, "v"), noise, schedule, num_steps=10, prediction_type="v")
        torch.testing.assert_close(result.x0, x0, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_trajectory_records_each_step_model_input_and_prediction(name):
    schedule = build_linear(LinearScheduleOptions())
    calls = []

    def model_fn(x, t):
        calls.append((x.clone(), t.clone()))
        return 0.1 * x

    sampler = SAMPLERS[name]()
    noise = torch.randn(2, 1, 3, 3)
    result = sampler.sample(model_fn, noise, schedule, num_steps=6, record=True, generator=torch.Generator())
    assert len(result.trajectory) == 6
    torch.testing.assert_close(result.timesteps, sampler.timesteps(schedule, 6))
    first_calls = (
        calls[::2][:5] + calls[-1:] if name == "heun" else calls
    )  # Heun calls twice per step but the last
    assert len(calls) == (11 if name == "heun" else 6)
    for step, (x, _) in zip(result.trajectory, first_calls, strict=True):
        assert step.x_t.device.type == "cpu" and step.x_t.shape == (2, 1, 3, 3)
        torch.testing.assert_close(step.x_t, x)
    assert calls[0][1].dtype == torch.float32 and calls[0][1].shape == (
        2,
    )  # float32 input -> float32 timesteps
    assert result.x0.dtype == torch.float32 and torch.isfinite(result.x0).all()
    assert sampler.sample(model_fn, noise, schedule, num_steps=6).trajectory is None


def test_initial_noise_scale_is_one_for_variance_preserving_and_sigma_max_for_euler():
    schedule = build_linear(LinearScheduleOptions())
    assert DDIMSampler(DDIMOptions()).init_noise_sigma(schedule, 10) == 1.0
    euler = EulerSampler(KarrasOptions(timestep_spacing="linspace"))
    assert euler.init_noise_sigma(schedule, 10) == pytest.approx(schedule.sigmas[-1].item())
    leading = EulerSampler(KarrasOptions(timestep_spacing="leading"))
    sigma = schedule.sigmas[900].item()
    assert leading.init_noise_sigma(schedule, 10) == pytest.approx(math.sqrt(sigma**2 + 1))


def test_euler_feeds_the_model_variance_preserving_inputs():
    """At the first step the model sees noise * sigma_max / sqrt(sigma_max^2 + 1): unit-scale noise."""
    schedule = build_linear(LinearScheduleOptions())
    seen = []
    noise = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    EulerSampler(KarrasOptions()).sample(
        lambda x, t: seen.append(x) or torch.zeros_like(x), noise, schedule, num_steps=3
    )
    s = schedule.sigmas[-1].item()
    torch.testing.assert_close(seen[0], noise * s / math.sqrt(s**2 + 1))


def test_same_generator_seed_gives_the_same_stochastic_sample():
    schedule = build_linear(LinearScheduleOptions())
    noise = torch.randn(1, 1, 4, 4)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return (
            DDPMSampler(DDPMOptions())
            .sample(lambda x, t: 0.1 * x, noise, schedule, num_steps=5, generator=g)
            .x0
        )

    torch.testing.assert_close(run(0), run(0))
    assert not torch.allclose(run(0), run(1))


def test_learned_range_needs_variance_channels_and_other_samplers_ignore_them():
    schedule = build_linear(LinearScheduleOptions())
    noise = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="learned_range"):
        DDPMSampler(DDPMOptions(variance="learned_range")).sample(
            lambda x, t: x, noise, schedule, num_steps=3
        )
    two_c = DDIMSampler(DDIMOptions()).sample(
        lambda x, t: torch.cat([0.1 * x, x], 1), noise, schedule, num_steps=3
    )
    one_c = DDIMSampler(DDIMOptions()).sample(lambda x, t: 0.1 * x, noise, schedule, num_steps=3)
    torch.testing.assert_close(two_c.x0, one_c.x0)
    with pytest.raises(ValueError, match="expected the model to return 2 or 4 channels, got 3"):
        DDIMSampler(DDIMOptions()).sample(
            lambda x, t: x[:, :1].repeat(1, 3, 1, 1), noise, schedule, num_steps=3
        )


def test_bad_arguments_are_reported():
    schedule = build_linear(LinearScheduleOptions(num_train_timesteps=50))
    noise = torch.randn(1, 1, 2, 2)
    with pytest.raises(ValueError, match="expected prediction_type one of eps, x0, v, got 'epsilon'"):
        DDIMSampler(DDIMOptions()).sample(
            lambda x, t: x, noise, schedule, num_steps=5, prediction_type="epsilon"
        )
    with pytest.raises(ValueError, match=r"expected 1 <= num_steps <= 50 \(the training steps\), got 51"):
        DDIMSampler(DDIMOptions()).sample(lambda x, t: x, noise, schedule, num_steps=51)
    with pytest.raises(ValueError, match="expected <= 1"):
        DDIMOptions(eta=1.5)


def test_dynamic_thresholding_is_imagens_percentile_rule():
    x0 = torch.tensor([[0.5, -3.0, 2.0, 0.1], [0.2, 0.3, -0.4, 0.9]]).reshape(2, 1, 2, 2)
    out = dynamic_threshold(x0, ratio=0.75, max_value=None)
    s = torch.quantile(x0[0].abs().flatten(), 0.75).item()  # > 1: clip to [-s, s], divide by s
    torch.testing.assert_close(out[0], x0[0].clamp(-s, s) / s)
    torch.testing.assert_close(out[1], x0[1])  # s < 1 becomes 1: a plain clip to [-1, 1]
    capped = dynamic_threshold(x0, ratio=0.75, max_value=1.5)
    torch.testing.assert_close(capped[0], x0[0].clamp(-1.5, 1.5) / 1.5)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_callback_sees_each_step_as_it_is_taken_like_the_recorded_trajectory(name):
    schedule = build_linear(LinearScheduleOptions())
    seen = []
    result = SAMPLERS[name]().sample(
        lambda x, t: 0.1 * x,
        torch.randn(2, 1, 3, 3),
        schedule,
        num_steps=5,
        generator=torch.Generator().manual_seed(0),
        record=True,
        callback=lambda i, step: seen.append((i, step)),
    )
    assert [i for i, _ in seen] == list(range(5))
    for (_, step), recorded in zip(seen, result.trajectory, strict=True):
        torch.testing.assert_close(step.x_t, recorded.x_t)
        torch.testing.assert_close(step.pred_x0, recorded.pred_x0)


def test_a_new_sampler_is_only_its_grid_and_update_loop():
    """DDIM at eta = 0 written against the base in a few lines is the shipped DDIM, step for step."""
    from dvcore.diffusion.samplers.base import Grid, Sampler
    from dvcore.diffusion.spacing import spaced_timesteps

    class TinyDDIM(Sampler):
        def grid(self, schedule, num_steps):
            ts = spaced_timesteps(schedule.num_train_timesteps, num_steps, "trailing")
            ab = schedule.alphas_cumprod.tolist()
            return Grid(torch.from_numpy(ts), [*(ab[int(t)] for t in ts), 1.0])

        def loop(self, denoise, x, grid, generator):
            for i in range(len(grid)):
                pred = denoise(x, i)
                x = grid.alpha(i + 1) * pred.x0 + grid.sigma(i + 1) * pred.eps  # DDIM eq. 12, eta = 0
            return x

    schedule = build_cosine(CosineScheduleOptions())
    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    options = DDIMOptions(clip_sample=False)
    ours = TinyDDIM(options).sample(
        lambda x, t: torch.tanh(x), noise, schedule, num_steps=8, prediction_type="v"
    )
    shipped = DDIMSampler(options).sample(
        lambda x, t: torch.tanh(x), noise, schedule, num_steps=8, prediction_type="v"
    )
    torch.testing.assert_close(ours.x0, shipped.x0)


def test_noise_that_is_not_a_float_batch_is_refused():
    schedule = build_linear(LinearScheduleOptions(num_train_timesteps=50))
    with pytest.raises(
        ValueError, match=r"expected noise a float tensor of shape \(B, C, ...\), got torch.int64"
    ):
        DDIMSampler(DDIMOptions()).sample(
            lambda x, t: x, torch.zeros(1, 1, 2, 2, dtype=torch.long), schedule, num_steps=5
        )
