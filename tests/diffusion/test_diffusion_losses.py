"""Diffusion loss: v algebra, SNR weightings, importance sampling, loss per timestep."""

from __future__ import annotations

import pytest
import torch

from dvcore.diffusion.loss_per_timestep import LossPerTimestep
from dvcore.diffusion.losses import DiffusionLoss, DiffusionLossOptions, snr_weights
from dvcore.diffusion.prediction import eps_from, pred_eps_from, pred_x0_from, target_from, v_from, x0_from
from dvcore.diffusion.schedules import (
    CosineScheduleOptions,
    LinearScheduleOptions,
    build_cosine,
    build_linear,
)
from dvcore.diffusion.timestep_sampling import ImportanceTimesteps, UniformTimesteps

SCHEDULE = build_cosine(CosineScheduleOptions())


# ----------------------------------------------------------------------------------------------
# Parameterisation algebra
# ----------------------------------------------------------------------------------------------


def test_x0_and_eps_are_recovered_from_v_and_x_t():
    g = torch.Generator().manual_seed(0)
    x0, eps = (
        torch.randn(5, 2, 3, 3, generator=g, dtype=torch.float64),
        torch.randn(5, 2, 3, 3, generator=g, dtype=torch.float64),
    )
    t = torch.tensor([0, 10, 400, 900, 998])
    x_t = SCHEDULE.add_noise(x0, eps, t)
    v = target_from(x0, eps, t, SCHEDULE, "v")
    a, s = (
        SCHEDULE.alphas_cumprod[t].sqrt()[:, None, None, None],
        (1 - SCHEDULE.alphas_cumprod[t]).sqrt()[:, None, None, None],
    )
    torch.testing.assert_close(v, a * eps - s * x0)  # Salimans & Ho 2022
    for pred, kind in ((v, "v"), (eps, "eps"), (x0, "x0")):
        torch.testing.assert_close(pred_x0_from(pred, x_t, t, SCHEDULE, kind), x0, atol=1e-9, rtol=0)
        torch.testing.assert_close(pred_eps_from(pred, x_t, t, SCHEDULE, kind), eps, atol=1e-9, rtol=0)
    # with plain coefficients too: alpha^2 + sigma^2 = 1 at any level
    a, s = 0.6, 0.8
    x_t = a * x0 + s * eps
    v = v_from(x0, eps, a, s)
    torch.testing.assert_close(x0_from(v, x_t, a, s, "v"), x0)
    torch.testing.assert_close(eps_from(v, x_t, a, s, "v"), eps)


def test_targets_match_diffusers_get_velocity():
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    x0, eps, t = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2), torch.tensor([1, 100, 500, 990])
    torch.testing.assert_close(
        target_from(x0, eps, t, SCHEDULE, "v"), ref.get_velocity(x0, eps, t), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        SCHEDULE.add_noise(x0, eps, t), ref.add_noise(x0, eps, t), atol=1e-5, rtol=1e-5
    )


# ----------------------------------------------------------------------------------------------
# Weighting
# ----------------------------------------------------------------------------------------------


def test_min_snr_weights_match_hand_computation_for_each_target():
    snr = torch.tensor([0.0, 0.5, 5.0, 20.0], dtype=torch.float64)
    o = DiffusionLossOptions(weighting="min_snr", min_snr_gamma=5.0)
    # Hang et al. 2023: eps min(snr, g)/snr, x0 min(snr, g), v min(snr, g)/(snr + 1); at snr = 0 eps weight 1
    torch.testing.assert_close(
        snr_weights(snr, "eps", o), torch.tensor([1.0, 1.0, 1.0, 0.25], dtype=torch.float64)
    )
    torch.testing.assert_close(
        snr_weights(snr, "x0", o), torch.tensor([0.0, 0.5, 5.0, 5.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        snr_weights(snr, "v", o), torch.tensor([0.0, 0.5 / 1.5, 5 / 6, 5 / 21], dtype=torch.float64)
    )


def test_p2_and_uniform_weights_match_hand_computation():
    snr = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)
    o = DiffusionLossOptions(weighting="p2", p2_gamma=0.5, p2_k=1.0)
    eps_w = torch.tensor([1.0, 2**-0.5, 0.5], dtype=torch.float64)  # 1/(k + snr)^gamma, Choi et al. 2022
    torch.testing.assert_close(snr_weights(snr, "eps", o), eps_w)
    torch.testing.assert_close(snr_weights(snr, "x0", o), eps_w * snr)
    torch.testing.assert_close(snr_weights(snr, "v", o), eps_w * snr / (snr + 1))
    torch.testing.assert_close(
        snr_weights(snr, "v", DiffusionLossOptions()), torch.ones(3, dtype=torch.float64)
    )


def test_weighted_loss_means_the_same_for_every_target():
    """With MSE, a fixed prediction error costs the same under eps, x0 and v targets once weighted."""
    g = torch.Generator().manual_seed(1)
    x0, eps = (
        torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64),
    )
    eps_hat = eps + 0.1 * torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([3, 50, 200, 500, 800, 990])
    x_t = SCHEDULE.add_noise(x0, eps, t)
    a, s = SCHEDULE.coefficients(t, x_t)
    preds = {
        "eps": eps_hat,
        "x0": x0_from(eps_hat, x_t, a, s, "eps"),
        "v": v_from(x0_from(eps_hat, x_t, a, s, "eps"), eps_hat, a, s),
    }
    losses = {}
    for target, pred in preds.items():
        loss = DiffusionLoss(DiffusionLossOptions(target=target, weighting="min_snr"))
        out = loss(lambda x, tt, p=pred: p, x0, SCHEDULE, t=t, noise=eps)
        losses[target] = out.per_sample
    torch.testing.assert_close(losses["x0"], losses["eps"])
    torch.testing.assert_close(losses["v"], losses["eps"])


# ----------------------------------------------------------------------------------------------
# The loss call
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", ["mse", "l1", "huber"])
def test_loss_compares_the_model_output_with_the_target_at_x_t(distance):
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(3, 2, 4, 4, generator=g)
    seen = {}

    def model_fn(x_t, t, scale):
        seen["x_t"], seen["t"] = x_t, t
        return scale * x_t

    loss = DiffusionLoss(DiffusionLossOptions(target="v", distance=distance, huber_delta=0.5))
    out = loss(model_fn, x0, SCHEDULE, generator=torch.Generator().manual_seed(3), scale=0.5)
    t = out.t
    assert t.dtype == torch.long and t.shape == (3,) and seen["t"].dtype == torch.float32
    # the same draws, by hand
    g2 = torch.Generator().manual_seed(3)
    t_ref = torch.randint(0, 1000, (3,), generator=g2)
    eps = torch.randn(x0.shape, generator=g2)
    assert t.tolist() == t_ref.tolist()
    x_t = SCHEDULE.add_noise(x0, eps, t_ref)
    torch.testing.assert_close(seen["x_t"], x_t)
    target = target_from(x0, eps, t_ref, SCHEDULE, "v")
    err = 0.5 * x_t - target
    per = (
        {
            "mse": err**2,
            "l1": err.abs(),
            "huber": torch.where(err.abs() < 0.5, 0.5 * err**2, 0.5 * (err.abs() - 0.25)),
        }[distance]
        .flatten(1)
        .mean(1)
    )
    torch.testing.assert_close(out.per_sample, per)
    torch.testing.assert_close(out.distance, per)
    torch.testing.assert_close(out.loss, per.mean())


def test_loss_rejects_a_wrong_output_shape():
    loss = DiffusionLoss(DiffusionLossOptions())
    with pytest.raises(
        ValueError, match=r"expected the model to return shape \(2, 1, 2, 2\), got \(2, 2, 2, 2\)"
    ):
        loss(lambda x, t: torch.cat([x, x], 1), torch.zeros(2, 1, 2, 2), SCHEDULE)


def test_min_snr_is_finite_with_zero_terminal_snr():
    schedule = build_linear(LinearScheduleOptions(rescale_zero_terminal_snr=True))
    for target in ("eps", "x0", "v"):
        loss = DiffusionLoss(DiffusionLossOptions(target=target, weighting="min_snr"))
        out = loss(
            lambda x, t: torch.zeros_like(x), torch.randn(2, 1, 2, 2), schedule, t=torch.tensor([999, 0])
        )
        assert torch.isfinite(out.per_sample).all(), target


# ----------------------------------------------------------------------------------------------
# Timestep sampling
# ----------------------------------------------------------------------------------------------


def warm(sampler: ImportanceTimesteps, loss_of_t) -> None:
    T = sampler.num_train_timesteps
    for _ in range(sampler.history):
        t = torch.arange(T)
        sampler.update(t, loss_of_t(t))


def test_importance_sampling_is_uniform_until_every_step_has_a_full_history():
    sampler = ImportanceTimesteps(20, history=3)
    t, w = sampler.sample(8, torch.Generator().manual_seed(0))
    assert (w == 1).all() and t.min() >= 0 and t.max() < 20
    torch.testing.assert_close(sampler.probabilities(), torch.full((20,), 0.05, dtype=torch.float64))
    sampler.update(torch.arange(19), torch.ones(19))
    assert not sampler.warmed_up()
    warm(sampler, lambda t: torch.ones(len(t)))
    assert sampler.warmed_up()


def test_importance_probabilities_follow_root_mean_square_loss_and_stay_unbiased():
    T = 50
    sampler = ImportanceTimesteps(T, history=10, uniform_mix=0.001)
    loss_of_t = (torch.arange(T, dtype=torch.float64) + 1) / T  # L_t, larger at larger t
    warm(sampler, lambda t: loss_of_t[t])
    p = sampler.probabilities()
    expected = loss_of_t / loss_of_t.sum() * 0.999 + 0.001 / T  # sqrt(E[L^2]) = L for a constant history
    torch.testing.assert_close(p, expected)
    assert p.sum().item() == pytest.approx(1.0)
    # importance weights 1/(T p_t): E_p[w] = 1 and E_p[w L] = the uniform mean, exactly ...
    w = 1 / (T * p)
    assert (p * w).sum().item() == pytest.approx(1.0)
    assert (p * w * loss_of_t).sum().item() == pytest.approx(loss_of_t.mean().item())
    # ... and by Monte Carlo through sample()
    t, weights = sampler.sample(200_000, torch.Generator().manual_seed(0))
    assert (weights.double() * loss_of_t[t]).mean().item() == pytest.approx(loss_of_t.mean().item(), rel=0.01)
    assert weights.double().mean().item() == pytest.approx(1.0, rel=0.01)
    assert t.float().mean() > (T - 1) / 2  # high-loss steps are drawn more often


def test_importance_history_keeps_the_latest_losses_and_round_trips_through_state():
    sampler = ImportanceTimesteps(4, history=3)
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        sampler.update(torch.tensor([2]), torch.tensor([value]))
    assert sampler.losses[2].tolist() == [3.0, 4.0, 5.0]
    other = ImportanceTimesteps(4, history=3)
    other.load_state_dict(sampler.state_dict())
    assert other.losses.equal(sampler.losses) and other.counts.equal(sampler.counts)


def test_loss_with_importance_sampling_updates_history_and_weights_the_mean():
    loss = DiffusionLoss(DiffusionLossOptions(timestep_sampling="importance", importance_history=2))
    schedule = build_linear(LinearScheduleOptions(num_train_timesteps=10))
    x0 = torch.randn(4, 1, 2, 2)
    for seed in range(30):
        loss(lambda x, t: torch.zeros_like(x), x0, schedule, generator=torch.Generator().manual_seed(seed))
    sampler = loss.timestep_sampler
    assert isinstance(sampler, ImportanceTimesteps) and sampler.warmed_up()
    out = loss(
        lambda x, t: torch.zeros_like(x),
        x0,
        schedule,
        generator=torch.Generator().manual_seed(99),
        update_history=False,
    )
    w = 1 / (10 * sampler.probabilities()[out.t])
    torch.testing.assert_close(out.loss, (out.per_sample * w.float()).mean())
    state = loss.state_dict()
    fresh = DiffusionLoss(loss.options)
    fresh.load_state_dict(state, schedule)
    assert fresh.timestep_sampler.losses.equal(sampler.losses)


def test_uniform_sampler_draws_every_step_with_weight_one():
    t, w = UniformTimesteps(5).sample(1000, torch.Generator().manual_seed(0))
    assert set(t.tolist()) == set(range(5)) and (w == 1).all()


# ----------------------------------------------------------------------------------------------
# Loss per timestep
# ----------------------------------------------------------------------------------------------


def test_loss_per_timestep_buckets_means_and_counts():
    acc = LossPerTimestep(1000, num_buckets=10)
    acc.update(torch.tensor([0, 99, 100, 555, 999]), torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0]))
    acc.update(torch.tensor([50]), torch.tensor([2.0]))
    centres, means, counts = acc.compute()
    torch.testing.assert_close(centres, torch.arange(10, dtype=torch.float64) * 100 + 49.5)
    assert counts.tolist() == [3, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert means[0].item() == pytest.approx(2.0) and means[1].item() == 5.0 and means[9].item() == 9.0
    assert torch.isnan(means[2])
    acc.reset()
    assert acc.compute()[2].sum() == 0


def test_loss_per_timestep_centres_with_uneven_buckets():
    centres, _, _ = LossPerTimestep(10, num_buckets=3).compute()
    # steps 0-3 | 4-6 | 7-9  (bucket = t * 3 // 10)
    torch.testing.assert_close(centres, torch.tensor([1.5, 5.0, 8.0], dtype=torch.float64))
    loss = DiffusionLoss(DiffusionLossOptions(loss_buckets=4))
    assert loss.loss_per_timestep(SCHEDULE).num_buckets == 4
