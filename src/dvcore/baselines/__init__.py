"""Non-learned predictors scored beside every model: copy, blend and optical flow.

Components of the ``baseline`` kind (see ``dvcore.baselines.components``); the flow
interpolation is also a plain tensor function (``dvcore.baselines.flow.interpolate`` and
``middle_frame``) that a backbone may call as a prior.
"""

from dvcore.baselines.flow import FlowInterpolation, FlowOptions, interpolate, middle_frame
from dvcore.baselines.simple import blend_baseline, copy_baseline

__all__ = [
    "FlowInterpolation",
    "FlowOptions",
    "blend_baseline",
    "copy_baseline",
    "interpolate",
    "middle_frame",
]
