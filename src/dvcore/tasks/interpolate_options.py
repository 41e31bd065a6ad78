"""Options of the interpolate task (the recipe's ``[task]`` section when name = "interpolate")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import attrs

from dvcore.options import ge, gt, opt


@attrs.frozen
class InterpolateOptions:
    """Options of the interpolate task."""

    mode: Literal["regression", "diffusion"] = opt(
        "regression",
        "regression: context frames in, middle frame out; diffusion: the middle frame denoised "
        "from noise given the context",
    )
    with_middle: bool = opt(
        True, "diffusion: the noisy middle frame is an input; false = context and t only (target x0)"
    )
    input_noise: bool = opt(False, "diffusion: noise the context frames too, at the same t")
    sample_steps: int = opt(20, "diffusion: sampler steps per predicted frame", gt(0))
    samples_per_clip: int = opt(
        1, "diffusion: samples per eval clip; scores are their mean (and std), not the best", ge(1)
    )
    prediction_type: Literal["eps", "x0", "v"] | None = opt(
        None, "diffusion: what the backbone predicts; must equal loss.target; unset = that target"
    )

    tile: int | None = opt(
        None,
        "regression eval/inference on overlapping tiles of this side (full frames, bounded memory); unset = "
        "whole frames",
        gt(0),
    )
    tile_overlap: int = opt(32, "tile: overlap between neighbouring tiles, blended smoothly", ge(0))
    tile_margin: int | None = opt(
        None, "tile: border of each tile discarded before blending; unset = overlap // 4", ge(0)
    )
    tile_align: int = opt(
        1, "tile: tiles start on multiples of this (the patch interpolator's tgt_field)", gt(0)
    )
    tile_chunk: int = opt(16, "tile: tiles through the model at once", gt(0))

    def problems(self) -> Iterable[tuple[str, str]]:
        if self.tile is not None and self.tile_overlap >= self.tile:
            yield "tile_overlap", f"expected < tile ({self.tile}), got {self.tile_overlap}"
        if self.mode != "regression":
            return
        for name, default in (
            ("with_middle", True),
            ("input_noise", False),
            ("samples_per_clip", 1),
            ("prediction_type", None),
        ):
            value = getattr(self, name)
            if value != default:
                yield (
                    name,
                    f"expected {_toml(default)} with mode = 'regression' (a diffusion option), got "
                    f"{_toml(value)}",
                )


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "unset" if value is None else repr(value)
