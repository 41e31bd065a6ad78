"""The core's baselines as components of the ``baseline`` kind (registered from ``dvcore.builtins``).

A baseline factory takes its options and returns a predictor: ``predict(context) -> frame``, with
context the task's context frames (B, N-1, C, H, W) in [0, 1] (the middle frame withheld) and the
frame (B, C, H, W). Baselines are not trained; every interpolation evaluation scores the ones a
recipe names (``eval.baselines``) beside the model, so a plugin that registers one adds a row to
every table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dvcore.baselines.flow import FlowInterpolation, FlowOptions, interpolate
from dvcore.baselines.simple import blend_baseline, copy_baseline
from dvcore.registry import NoOptions, Registrar, Registry, unknown_name_message

Predictor = Callable[[torch.Tensor], torch.Tensor]


def build_copy(_options: NoOptions) -> Predictor:
    """Copy the context frame just before the middle one."""
    return copy_baseline


def build_blend(_options: NoOptions) -> Predictor:
    """Average the two context frames around the middle one."""
    return blend_baseline


class FlowBaseline:
    """Optical flow (OpenCV DIS) both ways, warp both frames to the middle, occlusion-aware blend."""

    def __init__(self, options: FlowOptions):
        self.options = options

    def __call__(self, context: torch.Tensor) -> torch.Tensor:
        return self.run(context).frame  # (B, C, H, W)

    def run(self, context: torch.Tensor) -> FlowInterpolation:
        """The interpolation with its flows (for the motion magnitude of each clip)."""
        k = context.shape[1] // 2
        return interpolate(context[:, k - 1], context[:, k], self.options)


def build_flow(options: FlowOptions) -> FlowBaseline:
    """Optical flow (OpenCV DIS) both ways, warp both frames to the middle, occlusion-aware blend."""
    return FlowBaseline(options)


def register(registrar: Registrar) -> None:
    registrar.add("baseline", "copy", build_copy, NoOptions)
    registrar.add("baseline", "blend", build_blend, NoOptions)
    registrar.add("baseline", "flow", build_flow, FlowOptions)


DEFAULT_BASELINES = ("copy", "blend", "flow")


def build_baselines(names: list[str] | None, registry: Registry, problems: list[str]) -> dict[str, Any]:
    """Predictors of the ``baseline`` kind by name (``eval.baselines``; unset = copy, blend, flow)."""
    baselines = {}
    for name in DEFAULT_BASELINES if names is None else names:
        if ("baseline", name) not in registry:
            problems.append(
                f"eval.baselines: {unknown_name_message('baseline', name, registry.names('baseline'))}"
            )
            continue
        baselines[name] = registry.get("baseline", name).build()
    return baselines
