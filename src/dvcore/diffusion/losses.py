"""The diffusion training loss: target, distance, weighting over t, timestep sampling.

One call (registry kind ``loss``, name ``diffusion``; ``factory(options) -> DiffusionLoss``):

    out = loss(model_fn, x0, schedule, generator=g)      # model_fn(x_t, t) -> prediction
    out.loss.backward()

draws t (``timestep_sampling``) and eps, forms x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps
(DDPM eq. 4), and regresses the model's output on the target (eps, x0 or v). The loss knows
nothing about conditioning: the task closes over it in ``model_fn`` (extra keyword
arguments of the call are passed on to ``model_fn``).

Weighting over t is expressed as a weight on the eps-MSE and converted to the chosen target,
so a weighting means the same thing whatever the model predicts. With
||x0 err||^2 = ||eps err||^2 / SNR and ||v err||^2 = ||eps err||^2 (SNR + 1) / SNR:

- ``uniform``: 1 on the chosen target (Ho et al. 2020's L_simple for eps),
- ``min_snr``: eps weight min(SNR, gamma)/SNR (Hang et al. 2023, min-SNR-gamma), i.e.
  min(SNR, gamma)/SNR for eps, min(SNR, gamma) for x0, min(SNR, gamma)/(SNR + 1) for v,
- ``p2``: eps weight 1/(k + SNR)^gamma on L_simple (Choi et al. 2022, P2), times SNR for x0 and
  SNR/(SNR + 1) for v.

The conversions are exact for MSE; for L1 / Huber they are the same factors, applied as-is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import attrs
import torch
import torch.nn.functional as F

from dvcore.diffusion.loss_per_timestep import LossPerTimestep
from dvcore.diffusion.prediction import target_from
from dvcore.diffusion.schedules import Schedule
from dvcore.diffusion.timestep_sampling import ImportanceTimesteps, UniformTimesteps
from dvcore.options import ge, gt, lt, opt

Tensor = torch.Tensor


@attrs.frozen
class DiffusionLossOptions:
    """Diffusion training loss."""

    target: Literal["eps", "x0", "v"] = opt(
        "eps", "what the model predicts: noise, clean sample, or velocity"
    )
    distance: Literal["mse", "l1", "huber"] = opt("mse", "per-element distance between prediction and target")
    huber_delta: float = opt(1.0, "Huber loss threshold between quadratic and linear parts", gt(0))
    weighting: Literal["uniform", "min_snr", "p2"] = opt(
        "uniform", "weight over t: uniform, min-SNR (Hang et al. 2023) or P2 (Choi et al. 2022)"
    )
    min_snr_gamma: float = opt(5.0, "gamma of min-SNR weighting", gt(0))
    p2_gamma: float = opt(1.0, "gamma of P2 weighting", ge(0))
    p2_k: float = opt(1.0, "k of P2 weighting", gt(0))
    timestep_sampling: Literal["uniform", "importance"] = opt(
        "uniform", "how t is drawn: uniform, or loss-aware importance sampling (iDDPM)"
    )
    importance_history: int = opt(10, "losses remembered per training step for importance sampling", ge(1))
    importance_uniform_mix: float = opt(
        0.001, "uniform probability mass mixed into importance sampling", ge(0), lt(1)
    )
    loss_buckets: int = opt(10, "buckets of training steps for the loss-per-timestep log", ge(1))


@dataclass(frozen=True)
class LossOutput:
    """What ``DiffusionLoss`` returns."""

    loss: Tensor  # () the mean of per_sample x importance weights, to backpropagate
    per_sample: Tensor  # (B,) weighted (by t) loss of each sample, before importance weights
    t: Tensor  # (B,) long training steps
    distance: Tensor  # (B,) unweighted mean distance of each sample


# ----------------------------------------------------------------------------------------------
# Pieces
# ----------------------------------------------------------------------------------------------


def eps_weight(
    snr: Tensor, weighting: str, *, min_snr_gamma: float = 5.0, p2_gamma: float = 1.0, p2_k: float = 1.0
) -> Tensor:
    """Weight on the eps-MSE at these SNRs, for min_snr and p2 (uniform needs none: the caller's)."""
    if weighting == "min_snr":
        return (min_snr_gamma / snr).clamp(max=1.0)  # min(SNR, gamma)/SNR, = 1 at SNR = 0
    if weighting == "p2":
        weight: Tensor = 1.0 / (p2_k + snr) ** p2_gamma
        return weight
    raise ValueError(f"expected weighting one of min_snr, p2, got {weighting!r}")


def target_factor(snr: Tensor, target: str) -> Tensor:
    """Ratio ||eps err||^2 / ||target err||^2 at fixed x_t: 1 (eps), SNR (x0), SNR/(SNR+1) (v)."""
    if target == "eps":
        return torch.ones_like(snr)
    if target == "x0":
        return snr
    if target == "v":
        return snr / (snr + 1)
    raise ValueError(f"expected target one of eps, x0, v, got {target!r}")


def snr_weights(snr: Tensor, target: str, options: DiffusionLossOptions) -> Tensor:
    """Per-sample weight on the chosen target's loss, from each sample's SNR (B,)."""
    if options.weighting == "uniform":
        return torch.ones_like(snr)
    w = eps_weight(
        snr,
        options.weighting,
        min_snr_gamma=options.min_snr_gamma,
        p2_gamma=options.p2_gamma,
        p2_k=options.p2_k,
    )
    weight: Tensor = w * target_factor(snr, target)
    return weight


def distance(pred: Tensor, target: Tensor, kind: str, huber_delta: float = 1.0) -> Tensor:
    """Mean element-wise distance per sample: (B, ...) x2 -> (B,)."""
    if kind == "mse":
        d = (pred - target) ** 2
    elif kind == "l1":
        d = (pred - target).abs()
    elif kind == "huber":
        d = F.huber_loss(pred, target, reduction="none", delta=huber_delta)
    else:
        raise ValueError(f"expected distance one of mse, l1, huber, got {kind!r}")
    return d.flatten(1).mean(dim=1)  # (B,)


# ----------------------------------------------------------------------------------------------
# The loss
# ----------------------------------------------------------------------------------------------


class DiffusionLoss:
    """Noise x0 at random t, predict the target, weight over t; keeps the importance-sampling state."""

    kind = "diffusion"  # the call a task makes (dvcore.protocols.DiffusionLoss)

    def __init__(self, options: DiffusionLossOptions):
        self.options = options
        self.timestep_sampler: UniformTimesteps | None = None  # built on first call (needs T)

    def sampler_for(self, schedule: Schedule) -> UniformTimesteps:
        """The timestep sampler, built for this schedule's T on first use."""
        T = schedule.num_train_timesteps
        if self.timestep_sampler is None or self.timestep_sampler.num_train_timesteps != T:
            o = self.options
            self.timestep_sampler = (
                ImportanceTimesteps(T, o.importance_history, o.importance_uniform_mix)
                if o.timestep_sampling == "importance"
                else UniformTimesteps(T)
            )
        return self.timestep_sampler

    def loss_per_timestep(self, schedule: Schedule) -> LossPerTimestep:
        """A fresh accumulator with this loss's bucket count."""
        return LossPerTimestep(schedule.num_train_timesteps, min(self.options.loss_buckets, len(schedule)))

    def __call__(
        self,
        model_fn: Callable[..., Tensor],
        x0: Tensor,
        schedule: Schedule,
        generator: torch.Generator | None = None,
        *,
        t: Tensor | None = None,
        noise: Tensor | None = None,
        update_history: bool = True,
        **model_kwargs: Any,
    ) -> LossOutput:
        """Loss on a batch x0 (B, C, H, W); t and noise are drawn unless given.

        Given t, importance weights are 1 (e.g. a validation loss at fixed steps). With
        importance sampling, the per-sample losses update the history unless
        ``update_history`` is false (validation; or when the trainer gathers across ranks).
        """
        o = self.options
        b = x0.shape[0]
        sampler = self.sampler_for(schedule)
        if t is None:
            t, importance = sampler.sample(b, generator, x0.device)  # (B,), (B,)
        else:
            t, importance = t.to(x0.device).long(), torch.ones(b, device=x0.device)
        if noise is None:
            gen_device = generator.device if generator is not None else x0.device
            noise = torch.randn(x0.shape, generator=generator, device=gen_device, dtype=x0.dtype).to(
                x0.device
            )

        x_t = schedule.add_noise(x0, noise, t)  # (B, C, H, W), DDPM eq. 4
        pred = model_fn(x_t, t.to(torch.float32), **model_kwargs)  # (B, C, H, W)
        if pred.shape != x0.shape:
            raise ValueError(f"expected the model to return shape {tuple(x0.shape)}, got {tuple(pred.shape)}")
        target = target_from(x0, noise, t, schedule, o.target)  # (B, C, H, W)

        dist = distance(pred.float(), target.float(), o.distance, o.huber_delta)  # (B,)
        ab = schedule.on(x0.device)[t]  # (B,) float64 alpha_bar_t
        snr = ab / (1.0 - ab)  # (B,) as schedule.snr[t], without copying the table every step
        per_sample = dist * snr_weights(snr, o.target, o).to(dist.dtype)  # (B,)
        loss = (per_sample * importance.to(dist.dtype)).mean()
        if update_history:
            sampler.update(t, per_sample)
        return LossOutput(loss=loss, per_sample=per_sample, t=t, distance=dist)

    def state_dict(self) -> dict[str, Any]:
        return (
            {} if self.timestep_sampler is None else {"timestep_sampler": self.timestep_sampler.state_dict()}
        )

    def load_state_dict(self, state: dict[str, Any], schedule: Schedule) -> None:
        if "timestep_sampler" in state:
            self.sampler_for(schedule).load_state_dict(state["timestep_sampler"])


def build_diffusion_loss(options: DiffusionLossOptions) -> DiffusionLoss:
    """Diffusion loss: eps / x0 / v target, MSE / L1 / Huber, uniform / min-SNR / P2 weighting."""
    return DiffusionLoss(options)
