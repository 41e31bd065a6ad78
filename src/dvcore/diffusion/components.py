"""Registration of the built-in diffusion components (called from ``dvcore.builtins``).

Factories, per kind:
- ``schedule``: ``factory(options) -> Schedule``
- ``sampler``:  ``factory(options) -> Sampler``  (``sample(model_fn, noise, schedule, ...)``)
- ``loss``:     ``factory(options) -> DiffusionLoss``  (``loss(model_fn, x0, schedule, ...)``)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dvcore.diffusion.losses import DiffusionLossOptions, build_diffusion_loss
from dvcore.diffusion.samplers.base import Sampler
from dvcore.diffusion.samplers.ddim import DDIMOptions, build_ddim
from dvcore.diffusion.samplers.ddpm import DDPMOptions, build_ddpm
from dvcore.diffusion.samplers.dpmsolver import DPMSolverOptions, build_dpmsolver
from dvcore.diffusion.samplers.karras import KarrasOptions, build_euler, build_heun
from dvcore.diffusion.schedules import SCHEDULES
from dvcore.registry import Registrar

SAMPLERS: dict[str, tuple[Callable[[Any], Sampler], type]] = {
    "ddpm": (build_ddpm, DDPMOptions),
    "ddim": (build_ddim, DDIMOptions),
    "dpmsolver++": (build_dpmsolver, DPMSolverOptions),
    "euler": (build_euler, KarrasOptions),
    "heun": (build_heun, KarrasOptions),
}


def register(registrar: Registrar) -> None:
    """Add every schedule, sampler and the diffusion loss."""
    for name, (schedule, options) in SCHEDULES.items():
        registrar.add("schedule", name, schedule, options)
    for name, (sampler, sampler_options) in SAMPLERS.items():
        registrar.add("sampler", name, sampler, sampler_options)
    registrar.add("loss", "diffusion", build_diffusion_loss, DiffusionLossOptions)
