"""Noise schedules: the noise level of each of the T training steps.

A ``Schedule`` holds float64 tensors indexed by the **training step** t = 0 .. T-1
(t = 0 is the least noisy step; the paper's t = 1 .. T shifted by one, as in every
DDPM code base). Samplers pick a subset of these steps; losses draw t uniformly or by
importance. The four schedules are functions of T and a few options:

- ``linear``: betas linear in t (Ho et al. 2020, sec. 4: 1e-4 -> 0.02 over T = 1000).
- ``scaled_linear``: sqrt(beta) linear in t (the latent-diffusion / Stable Diffusion schedule).
- ``cosine``: alpha_bar from a squared cosine (Nichol & Dhariwal 2021, eq. 17), betas clipped at 0.999.
- ``sigmoid``: betas follow a sigmoid over [-6, 6] (GeoDiff, Xu et al. 2022; diffusers' "sigmoid").

Each accepts ``rescale_zero_terminal_snr`` (Lin et al. 2023, algorithm 1): sqrt(alpha_bar) is
shifted and scaled so that the last step is pure noise (alpha_bar[T-1] = 0) and the first is
unchanged. A model must then predict v or x0: an eps prediction carries no information
about x0 at zero SNR.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import torch

from dvcore.options import ge, gt, le, lt, opt

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# The schedule object
# ----------------------------------------------------------------------------------------------


class Schedule:
    """Noise levels of T training steps; every tensor is float64, indexed by training step.

    Notation (Ho et al. 2020; Kingma et al. 2021 for the SNR):
    ``x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps``  (DDPM eq. 4)
    """

    def __init__(self, betas: Tensor, name: str = "custom"):
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() < 2:
            raise ValueError(f"expected at least 2 training steps, got {betas.numel()}")
        if not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError("expected every beta in (0, 1]")
        self.name = name
        self.betas = betas  # (T,) by training step
        self.alphas = 1.0 - betas  # (T,) by training step
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)  # (T,) alpha_bar_t, by training step

    # -- derived tables (all (T,), float64, indexed by training step) ---------------------------

    @property
    def num_train_timesteps(self) -> int:
        """T, the number of training steps."""
        return self.betas.numel()

    def __len__(self) -> int:
        return self.num_train_timesteps

    @property
    def sqrt_alphas_cumprod(self) -> Tensor:
        """sqrt(alpha_bar_t): the signal coefficient ("alpha_t" of VDM), by training step."""
        return self.alphas_cumprod.sqrt()

    @property
    def sqrt_one_minus_alphas_cumprod(self) -> Tensor:
        """sqrt(1 - alpha_bar_t): the noise coefficient ("sigma_t" of VDM), by training step."""
        return (1.0 - self.alphas_cumprod).sqrt()

    @property
    def snr(self) -> Tensor:
        """alpha_bar / (1 - alpha_bar) (Kingma et al. 2021, VDM), by training step."""
        return self.alphas_cumprod / (1.0 - self.alphas_cumprod)

    @property
    def log_snr(self) -> Tensor:
        """lambda_t = log SNR (= 2 x the half-log-SNR of DPM-Solver), by training step."""
        return self.snr.log()

    @property
    def sigmas(self) -> Tensor:
        """Karras/EDM noise level sqrt((1 - alpha_bar) / alpha_bar) = 1/sqrt(SNR), by training step.

        ``x_t / sqrt(alpha_bar_t) = x0 + sigma_t eps`` (Karras et al. 2022, the VE form: s(t) = 1).
        Infinite where alpha_bar is 0 (zero terminal SNR); samplers working in sigma space use
        ``sampling_alphas_cumprod`` instead.
        """
        return ((1.0 - self.alphas_cumprod) / self.alphas_cumprod).sqrt()

    def sampling_alphas_cumprod(self) -> Tensor:
        """alpha_bar with exact zeros replaced by 2**-24, so sigma and log-SNR stay finite.

        The value is diffusers' choice for zero-terminal-SNR schedules in its sigma-space
        solvers (Euler, DPM-Solver); it changes nothing for a schedule without zeros.
        """
        return torch.where(self.alphas_cumprod == 0, 2.0**-24, self.alphas_cumprod)

    # -- helpers --------------------------------------------------------------------------------

    def on(self, device: torch.device | str) -> Tensor:
        """alphas_cumprod on ``device``, copied once per device and kept.

        A copy from pageable host memory to a GPU waits for the GPU's queue to drain: done in
        every training step it would serialise the host and the device.
        """
        device = torch.device(device)
        cache: dict[torch.device, Tensor] = self.__dict__.setdefault("_on_device", {})
        if device not in cache:
            cache[device] = self.alphas_cumprod.to(device)
        return cache[device]

    def coefficients(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)) at training steps t (B,), shaped to broadcast with
        `like`.
        """
        ab = self.on(t.device)[t.long()]  # (B,)
        shape = (-1,) + (1,) * (like.dim() - 1)
        return ab.sqrt().reshape(shape).to(like.dtype), (1.0 - ab).sqrt().reshape(shape).to(like.dtype)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Sample q(x_t | x0) = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (DDPM eq. 4); t by training
        step.
        """
        a, s = self.coefficients(t, x0)
        return a * x0 + s * noise  # (B, C, H, W)

    def sigma_at(self, t: Tensor) -> Tensor:
        """sigma at float training steps t, interpolated linearly in t between table entries."""
        ab = self.sampling_alphas_cumprod()
        sig = ((1.0 - ab) / ab).sqrt()  # (T,) by training step
        t = torch.as_tensor(t, dtype=torch.float64).clamp(0, self.num_train_timesteps - 1)
        lo = t.floor().long().clamp(max=self.num_train_timesteps - 2)
        w = t - lo
        return (1 - w) * sig[lo] + w * sig[lo + 1]

    def timestep_at_sigma(self, sigma: Tensor) -> Tensor:
        """Float training step whose sigma is `sigma`: the inverse of the table, linear in log sigma.

        Values outside the table's range map to 0 or T-1.
        """
        ab = self.sampling_alphas_cumprod()
        log_sig = 0.5 * ((1.0 - ab) / ab).log()  # (T,) log sigma, rising with t
        log_s = torch.as_tensor(sigma, dtype=torch.float64).clamp(min=1e-10).log()
        lo = (torch.searchsorted(log_sig, log_s, right=True) - 1).clamp(0, self.num_train_timesteps - 2)
        w = ((log_s - log_sig[lo]) / (log_sig[lo + 1] - log_sig[lo])).clamp(0, 1)
        return lo + w

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, T={self.num_train_timesteps})"


# ----------------------------------------------------------------------------------------------
# Beta tables
# ----------------------------------------------------------------------------------------------


def linear_betas(T: int, beta_start: float, beta_end: float) -> Tensor:
    """beta_t linear from beta_start to beta_end (Ho et al. 2020, sec. 4); (T,) by training step."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def scaled_linear_betas(T: int, beta_start: float, beta_end: float) -> Tensor:
    """sqrt(beta_t) linear (Rombach et al. 2022, latent diffusion); (T,) by training step."""
    return torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=torch.float64) ** 2


def cosine_alpha_bar(u: Tensor, s: float = 0.008) -> Tensor:
    """f(u) / f(0), f(u) = cos^2((u + s)/(1 + s) * pi/2), u = t/T in [0, 1] (Nichol & Dhariwal 2021, eq.
    17)."""

    def f(v: Tensor) -> Tensor:
        return torch.cos((v + s) / (1 + s) * math.pi / 2) ** 2

    return f(u) / f(torch.zeros((), dtype=torch.float64))


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """beta_t = 1 - alpha_bar(t+1)/alpha_bar(t), clipped at max_beta (Nichol & Dhariwal 2021, sec. 3.2).

    Training step t (0-based) ends at u = (t+1)/T, so alpha_bar[t] = f((t+1)/T)/f(0) until the clip.
    """
    u = torch.arange(T + 1, dtype=torch.float64) / T  # (T+1,) grid of u = t/T
    ab = cosine_alpha_bar(u, s)  # (T+1,)
    return (1 - ab[1:] / ab[:-1]).clamp(max=max_beta)  # (T,) by training step


def sigmoid_betas(T: int, beta_start: float, beta_end: float) -> Tensor:
    """beta_t = beta_start + (beta_end - beta_start) * sigmoid(-6 .. 6) (GeoDiff, Xu et al. 2022); (T,)."""
    return torch.sigmoid(torch.linspace(-6, 6, T, dtype=torch.float64)) * (beta_end - beta_start) + beta_start


def rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Rescale betas so the last step has SNR 0 (Lin et al. 2023, algorithm 1); (T,) by training step.

    sqrt(alpha_bar) is shifted so its last value is 0 and scaled so its first value is kept.
    """
    sqrt_ab = torch.cumprod(1.0 - betas.double(), dim=0).sqrt()  # (T,)
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    ab = sqrt_ab**2
    alphas = torch.cat([ab[:1], ab[1:] / ab[:-1]])  # undo the cumulative product
    return 1.0 - alphas


# ----------------------------------------------------------------------------------------------
# Options and factories (registry kind "schedule": factory(options) -> Schedule)
# ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScheduleOptions:
    """The options every beta schedule has: the number of training steps and the zero-SNR rescale."""

    num_train_timesteps: int = opt(1000, "T, the number of training steps", ge(2))
    rescale_zero_terminal_snr: bool = opt(False, "rescale to SNR 0 at the last step (Lin et al. 2023)")


@attrs.frozen(kw_only=True)
class BetaRangeOptions(ScheduleOptions):
    """A schedule whose betas run from ``beta_start`` to ``beta_end``."""

    beta_start: float = opt(1e-4, "beta of the first training step", gt(0), lt(1))
    beta_end: float = opt(0.02, "beta of the last training step", gt(0), le(1))

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.beta_end < self.beta_start:
            yield "beta_end", f"expected >= beta_start ({self.beta_start}), got {self.beta_end}"


@attrs.frozen(kw_only=True)
class LinearScheduleOptions(BetaRangeOptions):
    """Betas linear in t."""


@attrs.frozen(kw_only=True)
class ScaledLinearScheduleOptions(BetaRangeOptions):
    """sqrt(beta) linear in t (Stable Diffusion's defaults)."""

    beta_start: float = opt(0.00085, "beta of the first training step", gt(0), lt(1))
    beta_end: float = opt(0.012, "beta of the last training step", gt(0), le(1))


@attrs.frozen(kw_only=True)
class CosineScheduleOptions(ScheduleOptions):
    """alpha_bar from a squared cosine (improved DDPM)."""

    s: float = opt(0.008, "offset that keeps beta small near t = 0", ge(0))
    max_beta: float = opt(0.999, "clip betas at this value (near t = T)", gt(0), le(1))


@attrs.frozen(kw_only=True)
class SigmoidScheduleOptions(BetaRangeOptions):
    """Betas along a sigmoid (GeoDiff): beta_start and beta_end are its lower and upper asymptotes."""


def _finish(betas: Tensor, name: str, rescale: bool) -> Schedule:
    return Schedule(rescale_zero_terminal_snr(betas) if rescale else betas, name=name)


def build_linear(options: LinearScheduleOptions) -> Schedule:
    """DDPM's linear betas (Ho et al. 2020)."""
    o = options
    return _finish(
        linear_betas(o.num_train_timesteps, o.beta_start, o.beta_end), "linear", o.rescale_zero_terminal_snr
    )


def build_scaled_linear(options: ScaledLinearScheduleOptions) -> Schedule:
    """sqrt(beta) linear: latent diffusion / Stable Diffusion."""
    o = options
    betas = scaled_linear_betas(o.num_train_timesteps, o.beta_start, o.beta_end)
    return _finish(betas, "scaled_linear", o.rescale_zero_terminal_snr)


def build_cosine(options: CosineScheduleOptions) -> Schedule:
    """Squared-cosine alpha_bar (Nichol & Dhariwal 2021)."""
    o = options
    return _finish(
        cosine_betas(o.num_train_timesteps, o.s, o.max_beta), "cosine", o.rescale_zero_terminal_snr
    )


def build_sigmoid(options: SigmoidScheduleOptions) -> Schedule:
    """Sigmoid betas (GeoDiff, Xu et al. 2022)."""
    o = options
    betas = sigmoid_betas(o.num_train_timesteps, o.beta_start, o.beta_end)
    return _finish(betas, "sigmoid", o.rescale_zero_terminal_snr)


SCHEDULES: dict[str, tuple[Callable[[Any], Schedule], type[ScheduleOptions]]] = {
    "linear": (build_linear, LinearScheduleOptions),
    "scaled_linear": (build_scaled_linear, ScaledLinearScheduleOptions),
    "cosine": (build_cosine, CosineScheduleOptions),
    "sigmoid": (build_sigmoid, SigmoidScheduleOptions),
}
