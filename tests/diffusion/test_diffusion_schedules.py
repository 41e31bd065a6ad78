"""Schedules: closed forms, zero terminal SNR, and diffusers' beta tables."""

from __future__ import annotations

import math

import pytest
import torch

from dvcore.diffusion.schedules import (
    SCHEDULES,
    CosineScheduleOptions,
    LinearScheduleOptions,
    ScaledLinearScheduleOptions,
    Schedule,
    SigmoidScheduleOptions,
    build_cosine,
    build_linear,
    build_scaled_linear,
    build_sigmoid,
)
from dvcore.diffusion.spacing import karras_sigmas, spaced_timesteps


def all_schedules(T: int = 1000, rescale: bool = False) -> dict[str, Schedule]:
    return {
        name: factory(options(num_train_timesteps=T, rescale_zero_terminal_snr=rescale))
        for name, (factory, options) in SCHEDULES.items()
    }


def test_cosine_alpha_bar_is_the_closed_form_of_improved_ddpm():
    T, s = 1000, 0.008
    schedule = build_cosine(CosineScheduleOptions(num_train_timesteps=T))

    def f(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    expected = torch.tensor([f((t + 1) / T) / f(0) for t in range(T)], dtype=torch.float64)
    unclipped = schedule.betas < 0.999  # the clip only acts on the last step(s)
    assert unclipped[:-1].all()
    torch.testing.assert_close(
        schedule.alphas_cumprod[unclipped], expected[unclipped], rtol=1e-10, atol=1e-14
    )
    assert schedule.betas.max() == pytest.approx(0.999)


@pytest.mark.parametrize("rescale", [False, True])
@pytest.mark.parametrize("T", [1000, 37])
def test_alpha_bar_decreases_monotonically_from_near_one(T, rescale):
    for name, schedule in all_schedules(T, rescale).items():
        ab = schedule.alphas_cumprod
        assert schedule.num_train_timesteps == T
        assert (ab[1:] < ab[:-1]).all(), name
        assert 0.9 < ab[0] < 1, name
        assert ab.dtype == torch.float64


def test_zero_terminal_snr_makes_the_last_step_pure_noise_and_keeps_the_first():
    for name, schedule in all_schedules(rescale=True).items():
        plain = SCHEDULES[name][0](SCHEDULES[name][1]())
        assert schedule.alphas_cumprod[-1] == 0, name
        assert schedule.snr[-1] == 0, name
        assert schedule.betas[-1] == pytest.approx(1.0), name
        torch.testing.assert_close(schedule.alphas_cumprod[0], plain.alphas_cumprod[0], rtol=1e-12, atol=0)
        # sqrt(alpha_bar) is an affine map of the original (Lin et al. 2023, algorithm 1)
        a, b = plain.sqrt_alphas_cumprod, schedule.sqrt_alphas_cumprod
        scale = (a[0] - a[-1]) / a[0]
        torch.testing.assert_close(b * scale + a[-1], a, rtol=1e-10, atol=1e-12)
        # sigma-space samplers get a finite stand-in for the zero
        assert schedule.sampling_alphas_cumprod()[-1] == 2.0**-24
        assert torch.isfinite(schedule.sigma_at(torch.tensor([999.0]))).all()


def test_derived_tables_follow_their_definitions():
    schedule = build_linear(LinearScheduleOptions())
    ab = schedule.alphas_cumprod
    torch.testing.assert_close(ab, torch.cumprod(1 - schedule.betas, 0))
    torch.testing.assert_close(schedule.snr, ab / (1 - ab))
    torch.testing.assert_close(schedule.sigmas, ((1 - ab) / ab).sqrt())
    torch.testing.assert_close(schedule.sigmas**-2, schedule.snr)
    torch.testing.assert_close(
        schedule.sqrt_alphas_cumprod**2 + schedule.sqrt_one_minus_alphas_cumprod**2,
        torch.ones(1000, dtype=torch.float64),
    )
    assert len(schedule) == 1000


def test_sigma_interpolation_hits_the_table_and_inverts_at_training_steps():
    schedule = build_cosine(CosineScheduleOptions())
    t = torch.arange(0, 1000, 7, dtype=torch.float64)
    torch.testing.assert_close(schedule.sigma_at(t), schedule.sigmas[t.long()])
    torch.testing.assert_close(schedule.timestep_at_sigma(schedule.sigmas[t.long()]), t, atol=1e-9, rtol=0)
    mid = schedule.sigma_at(torch.tensor([10.25]))  # linear in t between neighbours
    torch.testing.assert_close(mid, 0.75 * schedule.sigmas[10:11] + 0.25 * schedule.sigmas[11:12])


def test_add_noise_is_ddpm_forward_process():
    schedule = build_linear(LinearScheduleOptions())
    x0, eps = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    t = torch.tensor([0, 500, 999])
    expected = torch.stack(
        [
            schedule.alphas_cumprod[i].sqrt().float() * x0[k]
            + (1 - schedule.alphas_cumprod[i]).sqrt().float() * eps[k]
            for k, i in enumerate(t)
        ]
    )
    torch.testing.assert_close(schedule.add_noise(x0, eps, t), expected)


def test_options_report_a_reversed_beta_range():
    for options in (LinearScheduleOptions, ScaledLinearScheduleOptions, SigmoidScheduleOptions):
        problems = list(options(beta_start=0.02, beta_end=0.01).problems())
        assert problems == [("beta_end", "expected >= beta_start (0.02), got 0.01")]
    with pytest.raises(ValueError, match="expected >= 2"):
        CosineScheduleOptions(num_train_timesteps=1)


diffusers = pytest.importorskip("diffusers")


@pytest.mark.parametrize("T", [1000, 37])
@pytest.mark.parametrize(
    "name,beta_schedule,build,options",
    [
        ("linear", "linear", build_linear, LinearScheduleOptions),
        ("scaled_linear", "scaled_linear", build_scaled_linear, ScaledLinearScheduleOptions),
        ("cosine", "squaredcos_cap_v2", build_cosine, CosineScheduleOptions),
        ("sigmoid", "sigmoid", build_sigmoid, SigmoidScheduleOptions),
    ],
)
def test_betas_match_diffusers(name, beta_schedule, build, options, T):
    ours = build(options(num_train_timesteps=T))
    defaults = options()
    kwargs = {} if name == "cosine" else {"beta_start": defaults.beta_start, "beta_end": defaults.beta_end}
    ref = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule=beta_schedule, **kwargs)
    # diffusers builds its tables in float32
    torch.testing.assert_close(ours.betas.float(), ref.betas, rtol=2e-6, atol=1e-8)
    torch.testing.assert_close(ours.alphas_cumprod.float(), ref.alphas_cumprod, rtol=1e-5, atol=1e-8)


def test_zero_terminal_snr_rescale_matches_diffusers_in_float64():
    # diffusers' rescale in float32 loses ~1e-3 relative on small betas; its function runs in float64 too
    from diffusers.schedulers.scheduling_ddpm import rescale_zero_terminal_snr as reference

    for name, schedule in all_schedules(rescale=True).items():
        plain = SCHEDULES[name][0](SCHEDULES[name][1]())
        torch.testing.assert_close(schedule.betas, reference(plain.betas.clone()), rtol=1e-9, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# Timestep spacing
# ----------------------------------------------------------------------------------------------


def test_spacings_follow_lin_et_al_table_2():
    T = 1000
    assert spaced_timesteps(T, 10, "leading").tolist() == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert spaced_timesteps(T, 10, "leading", steps_offset=1)[0] == 901
    assert spaced_timesteps(T, 10, "trailing").tolist() == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert spaced_timesteps(T, 10, "linspace").tolist() == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert spaced_timesteps(T, 4, "linspace", rounded=False).tolist() == [999, 666, 333, 0]
    # DPM-Solver's grid: n + 1 points, the last (t ~ 0) dropped
    assert spaced_timesteps(T, 3, "linspace", solver_grid=True).tolist() == [999, 666, 333]
    assert spaced_timesteps(T, T, "trailing").tolist() == list(range(T - 1, -1, -1))


def test_spacings_reject_impossible_step_counts():
    with pytest.raises(ValueError, match="expected 1 <= num_steps <= 1000"):
        spaced_timesteps(1000, 1001, "trailing")
    with pytest.raises(ValueError, match="repeat a training step"):
        spaced_timesteps(1000, 1000, "linspace", solver_grid=True)
    with pytest.raises(ValueError, match="expected timestep_spacing one of"):
        spaced_timesteps(1000, 10, "uniform")


def test_karras_sigmas_follow_eq_5():
    s = karras_sigmas(0.002, 80.0, 5, rho=7.0)
    assert s[0].item() == pytest.approx(80.0) and s[-1].item() == pytest.approx(0.002)
    ramp = torch.linspace(0, 1, 5, dtype=torch.float64)
    expected = (80.0 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
    torch.testing.assert_close(s, expected)
