"""Options of the example components: the fields of their recipe sections, typed, defaulted, documented."""

from __future__ import annotations

import attrs

from dvcore.api import ge, gt, opt


@attrs.frozen
class ConvNetOptions:
    """[model] with name = "example_convnet"."""

    width: int = opt(32, "hidden channels", gt(0))
    depth: int = opt(2, "residual 3x3 conv layers", ge(1))


@attrs.frozen
class DriftOptions:
    """[data] with name = "example_drift"."""

    size: int = opt(32, "frame height and width in pixels", ge(8))
    num_frames: int = opt(4, "frames per clip; the task predicts the last from the others", ge(2))
    speed: float = opt(1.5, "largest drift per frame in pixels", ge(0))
    num_train: int = opt(2000, "clips in the train split", ge(1))
    num_eval: int = opt(64, "clips in the eval split", ge(1))


@attrs.frozen
class MAEOptions:
    """[[eval.metrics]] with name = "example_mae"."""

    scale: float = opt(255.0, "multiply the error by this (255 = in 8-bit levels)", gt(0))


@attrs.frozen
class ExtrapolateOptions:
    """[task] with name = "example_extrapolate"."""

    context: int | None = opt(None, "frames given to the model; unset = all but the last", ge(1))
