"""Samplers: DDPM, DDIM, DPM-Solver++, Euler, Heun (contract in ``base``)."""

from dvcore.diffusion.samplers.base import Sampler, SampleResult, TrajectoryStep
from dvcore.diffusion.samplers.ddim import DDIMOptions, DDIMSampler
from dvcore.diffusion.samplers.ddpm import DDPMOptions, DDPMSampler
from dvcore.diffusion.samplers.dpmsolver import DPMSolverOptions, DPMSolverSampler
from dvcore.diffusion.samplers.karras import EulerSampler, HeunSampler, KarrasOptions

__all__ = [
    "DDIMOptions",
    "DDIMSampler",
    "DDPMOptions",
    "DDPMSampler",
    "DPMSolverOptions",
    "DPMSolverSampler",
    "EulerSampler",
    "HeunSampler",
    "KarrasOptions",
    "SampleResult",
    "Sampler",
    "TrajectoryStep",
]
