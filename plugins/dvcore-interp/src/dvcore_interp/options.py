"""Options of the ``patch_interpolator`` backbone: a size preset, the window geometry, the tokens, the head.

How the dimensions resolve: ``size`` picks (depth, d_model, heads) from ``PRESETS``; any of
``depth``, ``d_model``, ``heads`` set explicitly overrides that one value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import attrs

from dvcore.api import each, ge, gt, lt, opt
from dvcore.nn import TransformerDims

#: size -> (depth, d_model, heads). XS is the CPU default; L is the width of docs/lab_notes.md §I on GPU.
PRESETS: dict[str, TransformerDims] = {
    "XS": TransformerDims(2, 64, 4),
    "S": TransformerDims(4, 128, 4),
    "M": TransformerDims(6, 256, 8),
    "L": TransformerDims(8, 512, 8),
}

#: Largest colour codebook a quantized model may ask for (quant_levels ** frame_channels).
MAX_CODES = 65_536


@attrs.frozen
class PatchInterpolatorOptions:
    """Options of the patch interpolator; explicit d_model / depth / heads override the size preset."""

    size: Literal["XS", "S", "M", "L"] = opt(
        "XS", "preset (d_model, depth, heads): XS 64/2/4, S 128/4/4, M 256/6/8, L 512/8/8"
    )
    d_model: int | None = opt(None, "token width; unset = the preset's", gt(0))
    depth: int | None = opt(None, "transformer blocks; unset = the preset's", gt(0))
    heads: int | None = opt(None, "attention heads, must divide d_model; unset = the preset's", gt(0))
    mlp_ratio: float = opt(4.0, "MLP hidden width as a multiple of d_model", gt(0))
    dropout: float = opt(0.0, "dropout on the attention output and in the MLP", ge(0), lt(1))
    attn_dropout: float = opt(0.0, "dropout on the attention weights", ge(0), lt(1))
    frame_channels: int = opt(3, "channels per frame; in_channels holds in_channels // this frames", gt(0))
    src_field: int = opt(16, "side in pixels of the window a block sees", gt(0))
    tgt_field: int = opt(8, "side in pixels of the central block a window predicts", gt(0))
    padding: Literal["reflect", "replicate"] = opt(
        "reflect", "how the image is extended at its borders (replicate when too small to reflect)"
    )
    tokens: Literal["linear", "quantized"] = opt(
        "linear",
        "linear: pixel values projected; quantized: colour codes embedded (512 levels, lab notes §I5)",
    )
    token_patch: int = opt(1, "pixels per token side: 1 = pixels (lab notes §I), 2 = 2x2 sub-patches", gt(0))
    quant_levels: int = opt(
        8, "quantized: levels per channel; levels ** frame_channels codes (8**3 = 512)", ge(2)
    )
    pos_embed: Literal["learned", "sincos"] = opt(
        "learned", "2D position of a token in its window: learned (starts as sin-cos) or fixed sin-cos"
    )
    head: Literal["none", "conv"] = opt("none", "conv: a 3x3 conv over the stitched map removes seams")
    conv_head_stride: Literal[1, 2] = opt(
        2, "conv head: 2 = tokens draw a 2x map that a stride-2 conv brings back (lab notes §I3); 1 = at 1x"
    )
    conv_head_channels: int = opt(32, "conv head: channels of the map the tokens draw", gt(0))
    residual: bool = opt(False, "predict the residual over a prior (see prior; speeds training)")
    prior_frames: list[int] | None = opt(
        None, "residual: the frames the prior is made from; unset = the middle two (even count)", each(ge(0))
    )
    prior: Literal["blend", "flow"] = opt(
        "blend",
        "residual: what the output corrects: blend = the mean of prior_frames; flow = optical-flow "
        "interpolation between the two prior_frames (the flow baseline, OpenCV DIS)",
    )
    warped_inputs: bool = opt(
        False, "prior = flow: the two prior frames warped to the target time join the input as two frames"
    )
    motion: Literal["fixed", "learned"] = opt(
        "fixed",
        "prior = flow: fixed = correct the flow interpolation in RGB; learned = also correct its two "
        "flows and its blend mask per pixel (warp_head.py; residual = true, scales = 1)",
    )
    motion_inputs: bool = opt(
        False,
        "motion = learned: the prior's two intermediate flows and its blend weight (5 channels) join the "
        "input (linear tokens)",
    )
    flow_preset: Literal["ultrafast", "fast", "medium"] = opt(
        "medium", "prior = flow: OpenCV DIS preset (speed against accuracy)"
    )
    value_range: list[float] = opt(
        attrs.NOTHING,
        "[low, high] of the frames' values, for the flow prior ([0, 1] in regression, [-1, 1] in diffusion)",
        factory=lambda: [0.0, 1.0],
    )
    scales: int = opt(
        1,
        "coarse to fine: predict at 1/2^(scales-1) resolution, then correct at each finer scale (a "
        "window at scale k sees 2^k times the motion)",
        ge(1),
    )
    shared_scales: bool = opt(
        False, "scales > 1: one set of weights for every scale (told the scale); false = weights per scale"
    )
    window_chunk: int | None = opt(None, "windows run at once, to bound memory; unset = all", gt(0))

    @property
    def dims(self) -> TransformerDims:
        """(depth, width = d_model, heads): the preset with explicit values laid over it."""
        depth, d_model, heads = PRESETS[self.size]
        return TransformerDims(self.depth or depth, self.d_model or d_model, self.heads or heads)

    def problems(self) -> Iterator[tuple[str, str]]:
        """Checks across fields: (field, message) pairs for the recipe's error report."""
        _, d_model, heads = self.dims
        if d_model % heads:
            yield "heads", f"expected a divisor of d_model ({d_model}), got {heads}"
        src, tgt, p = self.src_field, self.tgt_field, self.token_patch
        if src < tgt:
            yield "src_field", f"expected >= tgt_field ({tgt}), got {src}"
            return
        if (src - tgt) % 2:
            yield "tgt_field", f"expected the parity of src_field ({src}) so the block is centred, got {tgt}"
            return
        if tgt % p:
            yield "token_patch", f"expected a divisor of tgt_field ({tgt}), got {p}"
        elif (src - tgt) // 2 % p:
            yield (
                "token_patch",
                f"expected a divisor of the margin (src_field - tgt_field) / 2 = {(src - tgt) // 2}, got {p}",
            )
        if self.prior == "flow" and not (self.residual or self.warped_inputs):
            yield "prior", "'flow' is used with residual = true or warped_inputs = true; neither is set"
        if self.warped_inputs and self.prior != "flow":
            yield (
                "warped_inputs",
                f"expected prior = 'flow' (the warps come from its flow), got {self.prior!r}",
            )
        if self.prior == "flow" and self.prior_frames is not None and len(self.prior_frames) != 2:
            yield (
                "prior_frames",
                f"expected two frames to interpolate between (prior = 'flow'), got {self.prior_frames}",
            )
        if self.motion == "learned":
            if self.prior != "flow":
                yield (
                    "motion",
                    f"'learned' corrects the flow prior: expected prior = 'flow', got {self.prior!r}",
                )
            if not self.residual:
                yield "motion", "'learned' starts at the flow prior: expected residual = true, got false"
            if self.scales != 1:
                yield "motion", f"'learned' is single-scale: expected scales = 1, got {self.scales}"
        if self.motion_inputs and self.motion != "learned":
            yield "motion_inputs", f"expected motion = 'learned' (they are its flows), got {self.motion!r}"
        if self.motion_inputs and self.tokens != "linear":
            yield "motion_inputs", f"expected tokens = 'linear' (flows are not colours), got {self.tokens!r}"
        if len(self.value_range) != 2 or not self.value_range[0] < self.value_range[1]:
            yield "value_range", f"expected [low, high] with low < high, got {self.value_range!r}"
        # Compared in logs: a huge frame_channels must not build (or print) a huge integer.
        if self.tokens == "quantized" and self.frame_channels * math.log(self.quant_levels) > math.log(
            MAX_CODES
        ):
            yield (
                "quant_levels",
                f"expected quant_levels ** frame_channels <= {MAX_CODES} codes, "
                f"got {self.quant_levels} ** {self.frame_channels}",
            )
