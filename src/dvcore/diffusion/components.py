"""Registration of the built-in diffusion components (called from ``dvcore.builtins``).

Factories, per kind:
- ``schedule``: ``factory(options) -> Schedule``
- ``sampler``:  ``factory(options) -> Sampler``  (``sample(model_fn, noise, schedule, ...)``)
- ``loss``:     ``factory(options) -> DiffusionLoss``  (``loss(model_fn, x0, schedule, ...)``)
"""

from __future__ import annotations

from dvcore.diffusion.losses import DiffusionLossOptions, build_diffusion_loss
from dvcore.diffusion.samplers.ddim import DDIMOptions, build_ddim
from dvcore.diffusion.samplers.ddpm import DDPMOptions, build_ddpm
from dvcore.diffusion.samplers.dpmsolver import DPMSolverOptions, build_dpmsolver
from dvcore.diffusion.samplers.karras import KarrasOptions, build_euler, build_heun
from dvcore.diffusion.schedules import SCHEDULES
from dvcore.registry import Registrar

SAMPLERS = {
    "ddpm": (build_ddpm, DDPMOptions),
    "ddim": (build_ddim, DDIMOptions),
    "dpmsolver++": (build_dpmsolver, DPMSolverOptions),
    "euler": (build_euler, KarrasOptions),
    "heun": (build_heun, KarrasOptions),
}


def register(registrar: Registrar) -> None:
    """Add every schedule, sampler and the diffusion loss."""
    for name, (factory, options) in SCHEDULES.items():
        registrar.add("schedule", name, factory, options)
    for name, (factory, options) in SAMPLERS.items():
        registrar.add("sampler", name, factory, options)
    registrar.add("loss", "diffusion", build_diffusion_loss, DiffusionLossOptions)
