"""The three parameterisations of a denoiser's output, and the algebra between them.

With ``x_t = alpha x0 + sigma eps`` (alpha = sqrt(alpha_bar_t), sigma = sqrt(1 - alpha_bar_t),
alpha^2 + sigma^2 = 1) a model may predict

- ``eps``: the noise (Ho et al. 2020),
- ``x0``: the clean sample,
- ``v``: ``alpha eps - sigma x0`` (Salimans & Ho 2022, sec. 4 and appendix D).

Given x_t, any one of them determines the other two. The ``*_from`` functions take the
coefficients (tensors broadcastable to x, or floats) so samplers can use them at any noise
level; ``pred_x0_from`` / ``target_from`` take training steps and a schedule instead.
"""

from __future__ import annotations

from typing import Literal

import torch

from dvcore.diffusion.schedules import Schedule

Tensor = torch.Tensor
Coef = Tensor | float
PredictionType = Literal["eps", "x0", "v"]
PREDICTION_TYPES = ("eps", "x0", "v")


def check_prediction_type(prediction_type: str) -> None:
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(
            f"expected prediction_type one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}"
        )


def v_from(x0: Tensor, eps: Tensor, alpha: Coef, sigma: Coef) -> Tensor:
    """v = alpha eps - sigma x0 (Salimans & Ho 2022, eq. in sec. 4)."""
    return alpha * eps - sigma * x0


def x0_from(model_out: Tensor, x_t: Tensor, alpha: Coef, sigma: Coef, prediction_type: str) -> Tensor:
    """The x0 implied by a model output: eps -> (x_t - sigma eps)/alpha; v -> alpha x_t - sigma v."""
    if prediction_type == "eps":
        return (x_t - sigma * model_out) / alpha
    if prediction_type == "x0":
        return model_out
    if prediction_type == "v":
        return alpha * x_t - sigma * model_out
    check_prediction_type(prediction_type)
    raise AssertionError  # unreachable


def eps_from(model_out: Tensor, x_t: Tensor, alpha: Coef, sigma: Coef, prediction_type: str) -> Tensor:
    """The eps implied by a model output: x0 -> (x_t - alpha x0)/sigma; v -> alpha v + sigma x_t."""
    if prediction_type == "eps":
        return model_out
    if prediction_type == "x0":
        return (x_t - alpha * model_out) / sigma
    if prediction_type == "v":
        return alpha * model_out + sigma * x_t
    check_prediction_type(prediction_type)
    raise AssertionError  # unreachable


def target_from(x0: Tensor, eps: Tensor, t: Tensor, schedule: Schedule, target: str) -> Tensor:
    """The regression target for training steps t (B,): eps, x0, or v."""
    check_prediction_type(target)
    if target == "eps":
        return eps
    if target == "x0":
        return x0
    alpha, sigma = schedule.coefficients(t, x0)
    return v_from(x0, eps, alpha, sigma)


def pred_x0_from(
    model_out: Tensor, x_t: Tensor, t: Tensor, schedule: Schedule, prediction_type: str
) -> Tensor:
    """x0 implied by a model output at training steps t (B,)."""
    alpha, sigma = schedule.coefficients(t, x_t)
    return x0_from(model_out, x_t, alpha, sigma, prediction_type)


def pred_eps_from(
    model_out: Tensor, x_t: Tensor, t: Tensor, schedule: Schedule, prediction_type: str
) -> Tensor:
    """eps implied by a model output at training steps t (B,)."""
    alpha, sigma = schedule.coefficients(t, x_t)
    return eps_from(model_out, x_t, alpha, sigma, prediction_type)
