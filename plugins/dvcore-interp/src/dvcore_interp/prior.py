"""What the patch interpolator corrects: the blend of two frames, or their optical-flow interpolation.

With ``residual = true`` the model's output is prior + correction, and its last layer starts at
zero, so training starts exactly at the prior. Two priors:

- ``blend``: the mean of ``prior_frames`` (the blend baseline).
- ``flow``: OpenCV optical flow both ways between the two ``prior_frames``, warped to the middle
  and blended where each frame is visible (the flow baseline: ``dvcore.api.flow_interpolate``). The
  model then only has to fix what the flow got wrong (occlusions, thin structures, flow errors).
  With ``warped_inputs`` the two frames warped to the target time join the input as two more
  frames, so the windows see where the warps agree (the flow is right) and where they do not.

The flow runs on the CPU through OpenCV, without gradients, on every forward (a few ms per
32x32 clip; it is a fixed function of the input, like the blend).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from dvcore.api import FlowOptions, flow_interpolate

Tensor = torch.Tensor


class FlowMotion(NamedTuple):
    """A prior frame and (flow prior) its parts: frame = w * warp(before, flow_t0) + (1 - w) * warp(after,
    flow_t1)."""

    frame: Tensor  # (B, C, H, W) the prior
    warped: Tensor | None = None  # (B, 2C, H, W) the two warps, when ``warped_inputs``
    before: Tensor | None = None  # (B, C, H, W) the two prior frames
    after: Tensor | None = None
    flow_t0: Tensor | None = None  # (B, 2, H, W) pixels: where the target finds each pixel in ``before``
    flow_t1: Tensor | None = None  # (B, 2, H, W) ... and in ``after``
    weight_0: Tensor | None = None  # (B, 1, H, W) share of warp(before) in ``frame``


class Prior(nn.Module):
    """x (B, F*C, H, W) -> the prior frame (B, C, H, W) and extra input channels (B, E, H, W)."""

    def __init__(
        self,
        kind: Literal["blend", "flow"],
        frames: list[int],
        *,
        num_frames: int,
        frame_channels: int,
        warped_inputs: bool = False,
        flow: FlowOptions | None = None,
    ):
        super().__init__()
        self.kind, self.frames = kind, list(frames)
        self.num_frames, self.frame_channels = num_frames, frame_channels
        self.warped_inputs = kind == "flow" and warped_inputs
        self.flow = flow or FlowOptions()

    @property
    def extra_channels(self) -> int:
        """Channels ``forward`` adds to the input: the two warped frames, or none."""
        return 2 * self.frame_channels if self.warped_inputs else 0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        motion = self.motion(x)
        return motion.frame, motion.warped

    def motion(self, x: Tensor) -> FlowMotion:
        """The prior frame and, for ``flow``, what it was made from (for the learned warping head)."""
        b, _, h, w = x.shape
        frames = x.reshape(b, self.num_frames, self.frame_channels, h, w)  # (B, F, C, H, W)
        if self.kind == "blend":
            return FlowMotion(frames[:, self.frames].mean(1))  # (B, C, H, W)
        before, after = frames[:, self.frames[0]], frames[:, self.frames[1]]  # (B, C, H, W) each
        if x.device.type == "meta":  # shapes only (dvcore validate, memory estimates): OpenCV needs data
            flow = x.new_empty(b, 2, h, w)
            return FlowMotion(
                torch.empty_like(before),
                torch.cat([before, after], 1) if self.warped_inputs else None,
                before,
                after,
                flow,
                flow,
                x.new_empty(b, 1, h, w),
            )
        with torch.no_grad():
            result = flow_interpolate(before.float(), after.float(), self.flow)
        # The flows from the target time the baseline warped with (its per-pixel choice), and its warps.
        flow_t0, flow_t1 = result.flow_t0.to(x.dtype), result.flow_t1.to(x.dtype)  # (B, 2, H, W) each
        warped = None
        if self.warped_inputs:
            warped = torch.cat([result.warped_0, result.warped_1], 1).to(x.dtype)  # (B, 2C, H, W)
        prior = result.frame.to(x.dtype)  # (B, C, H, W)
        return FlowMotion(prior, warped, before, after, flow_t0, flow_t1, result.weight_0.to(x.dtype))


def resolve_prior(options: Any, *, num_frames: int, out_channels: int) -> tuple[Prior | None, list[str]]:
    """The prior ``PatchInterpolatorOptions`` ask for (None without residual or warped inputs) and any
    problems.

    ``prior_frames`` unset means the two frames around the middle of an even count (the blend
    baseline's); an odd count (diffusion, with the noisy frame in the input) must name them.
    """
    o = options
    if not (o.residual or o.warped_inputs):
        return None, []
    k = num_frames // 2
    frames = (
        list(o.prior_frames) if o.prior_frames is not None else ([k - 1, k] if num_frames % 2 == 0 else [])
    )
    problems = []
    if o.residual and out_channels != o.frame_channels:
        problems.append(
            f"residual: expected out_channels == frame_channels ({o.frame_channels}), got {out_channels}"
        )
    if not frames:
        problems.append(f"prior_frames: required for an odd number of frames ({num_frames})")
    elif max(frames) >= num_frames:
        problems.append(f"prior_frames: expected indices < {num_frames}, got {frames}")
    elif o.prior == "flow" and len(frames) != 2:
        problems.append(f"prior_frames: expected two frames for prior = 'flow', got {frames}")
    if problems:
        return None, problems
    flow = FlowOptions(preset=o.flow_preset, value_range=list(o.value_range))
    prior = Prior(
        o.prior,
        frames,
        num_frames=num_frames,
        frame_channels=o.frame_channels,
        warped_inputs=o.warped_inputs,
        flow=flow,
    )
    return prior, []
