"""Samplers against diffusers' schedulers: same schedule, same noise, same toy model.

Each comparison records every (x, t) the model is called with, in both implementations, and
the final sample, and requires them to agree. diffusers keeps its tables in float32 and
casts Euler / DPM-Solver samples to float32; near SNR 0 (the cosine schedule's last step has
alpha_bar = 2.4e-9) an eps-prediction step divides by sqrt(alpha_bar) = 5e-5, so float32
rounding alone moves diffusers' own result by up to 5%. The reference therefore runs with
the scheduler modules' ``torch.float32`` / ``np.float32`` read as float64 (``reference_in_float64``):
the same diffusers code, at float64. One test per sampler also compares against unpatched
(float32) diffusers on a well-conditioned case.
"""

from __future__ import annotations

import contextlib
import importlib
from collections import defaultdict
from unittest import mock

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")
# diffusers itself calls np.array(tensor), which numpy 2 flags; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from dvcore.diffusion.samplers import (  # noqa: E402
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
from dvcore.diffusion.schedules import (  # noqa: E402
    CosineScheduleOptions,
    LinearScheduleOptions,
    build_cosine,
    build_linear,
)

TOL = 1e-5
SCHEDULES = {
    "linear": (build_linear(LinearScheduleOptions()), "linear"),
    "cosine": (build_cosine(CosineScheduleOptions()), "squaredcos_cap_v2"),
}
DIFFUSERS_PREDICTION = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}
SPACINGS = ("leading", "trailing", "linspace")
STEPS = (10, 25, 50)
MAX_ERRORS: dict[str, float] = defaultdict(float)  # sampler -> max abs error seen, for the report


# ----------------------------------------------------------------------------------------------
# Harness
# ----------------------------------------------------------------------------------------------


def toy_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed nonlinear function of x and t standing in for a network."""
    t = t.to(x.dtype)[:, None, None, None]
    return 0.1 * x * torch.cos(t / 100) + 0.05 * torch.sin(x)


def toy_model_with_variance(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """2C channels: a prediction and a variance interpolation value in [-1, 1]."""
    return torch.cat([toy_model(x, t), torch.tanh(x + t.to(x.dtype)[:, None, None, None] / 500)], dim=1)


class Recorder:
    """Wraps a model function and records its inputs."""

    def __init__(self, fn=toy_model):
        self.fn, self.xs, self.ts = fn, [], []

    def __call__(self, x, t):
        self.xs.append(x.clone())
        self.ts.append(t.double().clone())
        return self.fn(x, t)


class _Float64Torch:
    """torch as a diffusers scheduler module sees it, with float32 meaning float64."""

    float32 = torch.float64

    def __getattr__(self, name):
        return getattr(torch, name)


class _Float64Numpy:
    """numpy as a diffusers scheduler module sees it, with float32 meaning float64."""

    float32 = np.float64

    def __getattr__(self, name):
        return getattr(np, name)


SCHEDULER_MODULES = [
    importlib.import_module(f"diffusers.schedulers.scheduling_{m}")
    for m in ("ddpm", "ddim", "dpmsolver_multistep", "euler_discrete", "heun_discrete")
]


@contextlib.contextmanager
def reference_in_float64():
    """Run diffusers' scheduler code with its float32 tables and casts in float64."""
    with contextlib.ExitStack() as stack:
        for module in SCHEDULER_MODULES:
            stack.enter_context(mock.patch.object(module, "torch", _Float64Torch()))
            stack.enter_context(mock.patch.object(module, "np", _Float64Numpy()))
        yield


def reference(
    cls,
    num_steps,
    noise,
    *,
    generator=None,
    model=toy_model,
    float64=True,
    timesteps=None,
    step=None,
    **config,
):
    """Build diffusers scheduler `cls(**config)` and run its standard denoising loop.

    Returns (final sample, recorder of the model's inputs).
    """
    rec = Recorder(model)
    with reference_in_float64() if float64 else contextlib.nullcontext():
        scheduler = cls(**config)
        if timesteps is not None:
            scheduler.set_timesteps(timesteps=timesteps)
        else:
            scheduler.set_timesteps(num_steps)
        x = noise * scheduler.init_noise_sigma
        for t in scheduler.timesteps:
            model_in = scheduler.scale_model_input(x, t)
            out = rec(model_in, t.expand(x.shape[0]).to(torch.float64))
            kwargs = dict(step or {})
            if generator is not None:
                kwargs["generator"] = generator
            x = scheduler.step(out, t, x, **kwargs).prev_sample
    return x, rec


def run_ours(sampler, schedule, num_steps, noise, prediction_type, *, generator=None, model=toy_model):
    rec = Recorder(model)
    result = sampler.sample(
        rec, noise, schedule, num_steps=num_steps, prediction_type=prediction_type, generator=generator
    )
    return result.x0, rec


def max_error(ours, theirs) -> float:
    """Largest difference in model inputs (x and t) and in the final sample."""
    (x_a, rec_a), (x_b, rec_b) = ours, theirs
    assert len(rec_a.xs) == len(rec_b.xs), f"{len(rec_a.xs)} model calls, diffusers made {len(rec_b.xs)}"
    err = (x_a - x_b).abs().max().item()
    for xa, xb, ta, tb in zip(rec_a.xs, rec_b.xs, rec_a.ts, rec_b.ts, strict=True):
        err = max(err, (xa - xb).abs().max().item(), (ta - tb).abs().max().item())
    return err


def check(name: str, ours, theirs, tol: float = TOL) -> None:
    err = max_error(ours, theirs)
    MAX_ERRORS[name] = max(MAX_ERRORS[name], err)
    assert err < tol, f"{name}: max abs difference {err:.3e} from diffusers"


@pytest.fixture(scope="module", autouse=True)
def report_errors(request):
    """With -v, print the largest difference from diffusers seen per sampler."""
    yield
    if request.config.option.verbose < 1 or not MAX_ERRORS:
        return
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print()
        for name, err in sorted(MAX_ERRORS.items()):
            print(f"parity with diffusers: {name:<28} max abs error {err:.2e}")


def noise_like(seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------------------------
# DDPM
# ----------------------------------------------------------------------------------------------


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_ddpm_matches_diffusers_over_spacings_and_step_counts(schedule_name, prediction_type):
    schedule, beta_schedule = SCHEDULES[schedule_name]
    for spacing in SPACINGS:
        for n in STEPS:
            sampler = DDPMSampler(DDPMOptions(timestep_spacing=spacing, clip_sample=True))
            ours = run_ours(sampler, schedule, n, noise_like(), prediction_type, generator=seeded(1))
            theirs = reference(
                diffusers.DDPMScheduler,
                n,
                noise_like(),
                generator=seeded(1),
                beta_schedule=beta_schedule,
                prediction_type=DIFFUSERS_PREDICTION[prediction_type],
                timestep_spacing=spacing,
                clip_sample=True,
            )
            check("ddpm", ours, theirs)


@pytest.mark.parametrize("schedule_name,prediction_type", [("linear", "eps"), ("cosine", "v")])
def test_ddpm_full_chain_of_all_training_steps_matches_diffusers(schedule_name, prediction_type):
    schedule, beta_schedule = SCHEDULES[schedule_name]
    sampler = DDPMSampler(DDPMOptions(clip_sample=False))
    ours = run_ours(sampler, schedule, 1000, noise_like(), prediction_type, generator=seeded(2))
    theirs = reference(
        diffusers.DDPMScheduler,
        1000,
        noise_like(),
        generator=seeded(2),
        beta_schedule=beta_schedule,
        prediction_type=DIFFUSERS_PREDICTION[prediction_type],
        clip_sample=False,
    )
    check("ddpm T=1000 steps", ours, theirs)


@pytest.mark.parametrize("variance", ["fixed_large", "learned_range"])
def test_ddpm_variance_types_match_diffusers(variance):
    schedule, _ = SCHEDULES["linear"]
    model = toy_model_with_variance if variance == "learned_range" else toy_model
    for spacing in ("leading", "linspace"):  # grids ending at t = 0 (see ddpm.py on trailing)
        for n in (10, 50):
            sampler = DDPMSampler(DDPMOptions(variance=variance, timestep_spacing=spacing))
            ours = run_ours(sampler, schedule, n, noise_like(), "eps", generator=seeded(3), model=model)
            theirs = reference(
                diffusers.DDPMScheduler,
                n,
                noise_like(),
                generator=seeded(3),
                model=model,
                variance_type=variance,
                timestep_spacing=spacing,
            )
            check(f"ddpm {variance}", ours, theirs)


def test_ddpm_dynamic_thresholding_matches_diffusers():
    schedule, beta_schedule = SCHEDULES["cosine"]
    sampler = DDPMSampler(DDPMOptions(thresholding=True, thresholding_ratio=0.9, thresholding_max=1.5))
    ours = run_ours(sampler, schedule, 25, noise_like(), "eps", generator=seeded(4))
    theirs = reference(
        diffusers.DDPMScheduler,
        25,
        noise_like(),
        generator=seeded(4),
        beta_schedule=beta_schedule,
        timestep_spacing="trailing",
        thresholding=True,
        dynamic_thresholding_ratio=0.9,
        sample_max_value=1.5,
    )
    check("ddpm thresholding", ours, theirs)


# ----------------------------------------------------------------------------------------------
# DDIM
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [0.0, 0.5])
@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_ddim_matches_diffusers_on_leading_and_trailing_grids(schedule_name, prediction_type, eta):
    # diffusers' DDIM steps t -> t - T//n: the next grid point for leading, and for trailing when n | T
    schedule, beta_schedule = SCHEDULES[schedule_name]
    for spacing in ("leading", "trailing"):
        for n in STEPS:
            clip = n != 25  # with and without clipping
            sampler = DDIMSampler(DDIMOptions(eta=eta, timestep_spacing=spacing, clip_sample=clip))
            ours = run_ours(sampler, schedule, n, noise_like(), prediction_type, generator=seeded(5))
            theirs = reference(
                diffusers.DDIMScheduler,
                n,
                noise_like(),
                generator=seeded(5),
                step={"eta": eta},
                beta_schedule=beta_schedule,
                prediction_type=DIFFUSERS_PREDICTION[prediction_type],
                timestep_spacing=spacing,
                clip_sample=clip,
            )
            check("ddim" if eta == 0 else "ddim eta>0", ours, theirs)


def test_ddim_steps_offset_final_alpha_and_clipped_eps_match_diffusers():
    schedule, _ = SCHEDULES["linear"]
    sampler = DDIMSampler(
        DDIMOptions(
            eta=0.3,
            timestep_spacing="leading",
            steps_offset=1,
            set_alpha_to_one=False,
            clip_sample_range=0.5,
            eps_from_clipped_x0=True,
        )
    )
    ours = run_ours(sampler, schedule, 20, noise_like(), "eps", generator=seeded(6))
    theirs = reference(
        diffusers.DDIMScheduler,
        20,
        noise_like(),
        generator=seeded(6),
        step={"eta": 0.3, "use_clipped_model_output": True},
        steps_offset=1,
        set_alpha_to_one=False,
        clip_sample_range=0.5,
    )
    check("ddim options", ours, theirs)


@pytest.mark.parametrize("n", [10, 30])
def test_ddim_on_any_grid_equals_first_order_dpmsolver_and_the_ddpm_posterior(n):
    """Where diffusers' DDIM leaves the grid (linspace; trailing with n not dividing T), check DDIM
    on the same timesteps against two identities: eta = 0 is first-order DPM-Solver++, eta = 1
    is DDPM's posterior with the fixed_small variance."""
    schedule, beta_schedule = SCHEDULES["cosine"]
    for spacing in ("linspace", "trailing"):
        ddim0 = DDIMSampler(DDIMOptions(eta=0.0, timestep_spacing=spacing, clip_sample=False))
        grid = ddim0.timesteps(schedule, n).long().tolist()
        ours = run_ours(ddim0, schedule, n, noise_like(), "v")
        theirs = reference(
            diffusers.DPMSolverMultistepScheduler,
            None,
            noise_like(),
            timesteps=grid,
            beta_schedule=beta_schedule,
            prediction_type="v_prediction",
            solver_order=1,
        )
        check("ddim = dpmsolver order 1", ours, theirs)

        ddim1 = DDIMSampler(DDIMOptions(eta=1.0, timestep_spacing=spacing, clip_sample=False))
        ours = run_ours(ddim1, schedule, n, noise_like(), "v", generator=seeded(7))
        theirs = reference(
            diffusers.DDPMScheduler,
            None,
            noise_like(),
            generator=seeded(7),
            timesteps=grid,
            beta_schedule=beta_schedule,
            prediction_type="v_prediction",
            clip_sample=False,
        )
        check("ddim eta=1 = ddpm", ours, theirs)


# ----------------------------------------------------------------------------------------------
# DPM-Solver++
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_dpmsolver_2m_matches_diffusers_over_spacings_and_step_counts(schedule_name, prediction_type):
    schedule, beta_schedule = SCHEDULES[schedule_name]
    for spacing in SPACINGS:
        for n in STEPS:
            sampler = DPMSolverSampler(DPMSolverOptions(timestep_spacing=spacing))
            ours = run_ours(sampler, schedule, n, noise_like(), prediction_type)
            theirs = reference(
                diffusers.DPMSolverMultistepScheduler,
                n,
                noise_like(),
                beta_schedule=beta_schedule,
                prediction_type=DIFFUSERS_PREDICTION[prediction_type],
                timestep_spacing=spacing,
            )
            check("dpmsolver++", ours, theirs)


DPM_OPTION_NAMES = {
    "final_sigma": "final_sigmas_type",
    "thresholding_ratio": "dynamic_thresholding_ratio",
    "thresholding_max": "sample_max_value",
}


@pytest.mark.parametrize(
    "options",
    [
        {"solver_order": 1},
        {"lower_order_final": False},
        {"final_sigma": "sigma_min"},
        {"final_sigma": "sigma_min", "lower_order_final": False},
        {"thresholding": True, "thresholding_ratio": 0.9, "thresholding_max": 1.5},
    ],
    ids=["order1", "no_lower_order_final", "sigma_min", "sigma_min_2nd_order_final", "thresholding"],
)
def test_dpmsolver_options_match_diffusers(options):
    schedule, _ = SCHEDULES["linear"]
    sampler = DPMSolverSampler(DPMSolverOptions(**options))
    config = {DPM_OPTION_NAMES.get(k, k): v for k, v in options.items()}
    for n in (8, 20):
        ours = run_ours(sampler, schedule, n, noise_like(), "eps")
        check(
            "dpmsolver++ options",
            ours,
            reference(diffusers.DPMSolverMultistepScheduler, n, noise_like(), **config),
        )


# ----------------------------------------------------------------------------------------------
# Euler and Heun
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("karras", [False, True], ids=["plain", "karras"])
@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
@pytest.mark.parametrize("method", ["euler", "heun"])
def test_euler_and_heun_match_diffusers_over_spacings_and_step_counts(
    method, schedule_name, prediction_type, karras
):
    schedule, beta_schedule = SCHEDULES[schedule_name]
    cls, ours_cls = {
        "euler": (diffusers.EulerDiscreteScheduler, EulerSampler),
        "heun": (diffusers.HeunDiscreteScheduler, HeunSampler),
    }[method]
    for spacing in SPACINGS:
        for n in STEPS:
            sampler = ours_cls(KarrasOptions(timestep_spacing=spacing, use_karras_sigmas=karras))
            ours = run_ours(sampler, schedule, n, noise_like(), prediction_type)
            theirs = reference(
                cls,
                n,
                noise_like(),
                beta_start=1e-4,
                beta_end=0.02,
                beta_schedule=beta_schedule,
                prediction_type=DIFFUSERS_PREDICTION[prediction_type],
                timestep_spacing=spacing,
                use_karras_sigmas=karras,
            )
            check(method + (" karras" if karras else ""), ours, theirs)


def test_heun_clip_sample_matches_diffusers():
    schedule, beta_schedule = SCHEDULES["cosine"]
    sampler = HeunSampler(KarrasOptions(clip_sample=True, clip_sample_range=0.8))
    ours = run_ours(sampler, schedule, 15, noise_like(), "eps")
    theirs = reference(
        diffusers.HeunDiscreteScheduler,
        15,
        noise_like(),
        beta_schedule=beta_schedule,
        clip_sample=True,
        clip_sample_range=0.8,
    )
    check("heun clip", ours, theirs)


# ----------------------------------------------------------------------------------------------
# Zero terminal SNR, and unpatched (float32) diffusers
# ----------------------------------------------------------------------------------------------


def test_samplers_match_diffusers_with_zero_terminal_snr_and_v_prediction():
    schedule = build_linear(LinearScheduleOptions(rescale_zero_terminal_snr=True))
    assert schedule.alphas_cumprod[-1] == 0
    config = {
        "rescale_betas_zero_snr": True,
        "prediction_type": "v_prediction",
        "timestep_spacing": "trailing",
    }
    trailing = {"timestep_spacing": "trailing"}
    cases = [
        (
            "ddim",
            diffusers.DDIMScheduler,
            DDIMSampler(DDIMOptions(clip_sample=False)),
            {"clip_sample": False},
        ),
        (
            "ddpm",
            diffusers.DDPMScheduler,
            DDPMSampler(DDPMOptions(clip_sample=False)),
            {"clip_sample": False},
        ),
        (
            "dpmsolver++",
            diffusers.DPMSolverMultistepScheduler,
            DPMSolverSampler(DPMSolverOptions(**trailing)),
            {},
        ),
        ("euler", diffusers.EulerDiscreteScheduler, EulerSampler(KarrasOptions(**trailing)), {}),
    ]
    for name, cls, sampler, extra in cases:
        ours = run_ours(sampler, schedule, 20, noise_like(), "v", generator=seeded(8))
        theirs = reference(
            cls, 20, noise_like(), generator=seeded(8) if name == "ddpm" else None, **config, **extra
        )
        check(f"{name} zero-SNR", ours, theirs)


def test_deterministic_samplers_match_float32_diffusers_on_a_well_conditioned_case():
    schedule, _ = SCHEDULES["linear"]
    config = {
        "prediction_type": "v_prediction",
        "timestep_spacing": "trailing",
        "beta_start": 1e-4,
        "beta_end": 0.02,
    }
    trailing = {"timestep_spacing": "trailing"}
    cases = [
        (
            "ddim",
            diffusers.DDIMScheduler,
            DDIMSampler(DDIMOptions(clip_sample=False)),
            {"clip_sample": False},
        ),
        (
            "dpmsolver++",
            diffusers.DPMSolverMultistepScheduler,
            DPMSolverSampler(DPMSolverOptions(**trailing)),
            {},
        ),
        ("euler", diffusers.EulerDiscreteScheduler, EulerSampler(KarrasOptions(**trailing)), {}),
        ("heun", diffusers.HeunDiscreteScheduler, HeunSampler(KarrasOptions(**trailing)), {}),
    ]
    for name, cls, sampler, extra in cases:
        ours = run_ours(sampler, schedule, 25, noise_like(), "v")
        theirs = reference(cls, 25, noise_like().float(), float64=False, **config, **extra)
        check(f"{name} vs float32 diffusers", ours, theirs)
