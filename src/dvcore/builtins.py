"""The core's own components, registered through the same hook as any plugin."""

from __future__ import annotations

from dvcore.data.moving_shapes import MovingShapesOptions, build_moving_shapes
from dvcore.diffusion.components import register as register_diffusion
from dvcore.hookspecs import hookimpl
from dvcore.registry import NoOptions, Registrar
from dvcore.tasks.interpolate import InterpolateOptions, InterpolateTask
from dvcore.tasks.pixel_loss import PixelLossOptions, build_pixel_loss
from dvcore.track.aim_tracker import AimOptions, build_aim_tracker
from dvcore.track.null import build_null_tracker


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add(
        "task",
        "interpolate",
        InterpolateTask,
        InterpolateOptions,
        doc="N frames in, the middle one predicted",
    )
    registrar.add("dataset", "moving_shapes", build_moving_shapes, MovingShapesOptions)
    registrar.add("loss", "pixel", build_pixel_loss, PixelLossOptions)
    registrar.add("tracker", "aim", build_aim_tracker, AimOptions)
    registrar.add("tracker", "none", build_null_tracker, NoOptions)
    register_diffusion(registrar)  # schedules, samplers, the diffusion loss
