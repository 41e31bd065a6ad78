"""Classical optical-flow interpolation: the strongest non-learned baseline, and a prior for models.

The frame at time t between ``before`` (t = 0) and ``after`` (t = 1) is made in four steps:

1. Optical flow both ways with OpenCV (DIS, or Farneback): F01 with before(x) ~ after(x + F01(x))
   and F10 with after(x) ~ before(x + F10(x)). DIS wants 8-bit grey images and its coarsest patch
   is 8 px (12 px at "medium"), so tiny frames are first upscaled (``min_side``) and the flow is
   scaled back down; the flow is in pixels of the frames given.
2. Flows from time t, by linear approximations read at x itself (the motion is assumed locally
   constant, so the flow at x stands in for the flow of the point that passes x at time t). Three
   candidates (F_t0, F_t1): from F01 alone (-t F01, (1 - t) F01), from F10 alone (t F10,
   -(1 - t) F10), and Super SloMo's mix of both (Jiang et al., CVPR 2018, eq. 4: -(1 - t) t F01
   + t^2 F10, (1 - t)^2 F01 - t (1 - t) F10). ``intermediate = "select"`` (default) keeps, per
   pixel, the candidate whose two warps agree best (mean |W0 - W1| over a 3x3 window), as
   classical interpolation with flow candidates does (Baker et al., IJCV 2011, sec. 3); near
   motion boundaries one flow belongs to the wrong surface and the others do not.
   ``"linear"`` always takes the Super SloMo mix.
3. Backward warping: W0(x) = before(x + F_t0(x)), W1(x) = after(x + F_t1(x)), bilinear, borders
   clamped.
4. Blending. ``blend = "average"``: (1 - t) W0 + t W1. ``blend = "occlusion"`` (default): weights
   from forward-backward consistency. A pixel p of ``before`` whose flow does not come back,
   |F01(p) + F10(p + F01(p))| large, is covered in ``after``; if W0 samples such a pixel, the
   content at x exists in ``before`` only and W1 (which sees whatever covers it) is distrusted,
   and the other way round. Weights (1 - t)(1 - u1 + eps), t (1 - u0 + eps) with u0 in [0, 1] the
   soft "exclusive to before" mask read where W0 samples, u1 likewise for ``after``.

Everything is tensor in, tensor out: ``interpolate(before, after)`` on (B, C, H, W) batches, any
device (the flow is computed on the CPU by OpenCV, without gradients; warping and blending run
on the input's device and are differentiable in the images). ``middle_frame(context)`` takes the
task's context frames (B, N-1, C, H, W) and interpolates between the two around the target, so a
backbone can use it as a prior. Results are deterministic for given inputs and options.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Literal

import attrs
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from dvcore.options import ge, gt, le, opt

Tensor = torch.Tensor

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights for RGB -> grey


@attrs.frozen
class FlowOptions:
    """Optical-flow interpolation (OpenCV) between the two frames around the target."""

    method: Literal["dis", "farneback"] = opt(
        "dis", "dis: OpenCV's dense inverse search; farneback: polynomial-expansion flow (slower, smoother)"
    )
    preset: Literal["ultrafast", "fast", "medium"] = opt(
        "medium", "DIS preset (speed against accuracy); ignored by farneback"
    )
    min_side: int = opt(
        96,
        "frames whose shorter side is below this are upscaled to it for the flow (DIS patches are "
        "8-12 px, so it fails on tiny frames); the flow is scaled back; 0 = never upscale",
        ge(0),
    )
    blend: Literal["occlusion", "average"] = opt(
        "occlusion", "occlusion: weights from forward-backward flow consistency; average: (1-t) W0 + t W1"
    )
    consistency_px: float = opt(
        1.0, "occlusion: forward-backward error (px) at which a pixel counts as half occluded", gt(0)
    )
    value_range: list[float] = opt(
        attrs.NOTHING,
        "[low, high] of the pixel values (mapped to 0..255 grey for OpenCV)",
        factory=lambda: [0.0, 1.0],
    )
    intermediate: Literal["select", "linear"] = opt(
        "select",
        "flows at time t: select = per pixel the best-agreeing of three linear candidates; linear = "
        "Super SloMo's mix of both flows",
    )
    t: float = opt(0.5, "time of the interpolated frame between the two frames (0..1)", ge(0), le(1))

    def problems(self) -> Iterator[tuple[str, str]]:
        if len(self.value_range) != 2 or not self.value_range[0] < self.value_range[1]:
            yield "value_range", f"expected [low, high] with low < high, got {self.value_range!r}"


@attrs.frozen
class FlowInterpolation:
    """The interpolated frame and what it was made from."""

    frame: Tensor  # (B, C, H, W)
    flow_01: Tensor  # (B, 2, H, W) (dx, dy) in pixels: before(x) ~ after(x + flow_01(x))
    flow_10: Tensor  # (B, 2, H, W) after(x) ~ before(x + flow_10(x))
    weight_0: Tensor  # (B, 1, H, W) share of the warped ``before`` in ``frame`` (the rest is ``after``'s)
    flow_t0: Tensor  # (B, 2, H, W) the intermediate flow ``before`` was warped with (per-pixel choice)
    flow_t1: Tensor  # (B, 2, H, W) the same for ``after``
    warped_0: Tensor  # (B, C, H, W) ``before`` warped to time t
    warped_1: Tensor  # (B, C, H, W) ``after`` warped to time t

    def motion(self) -> Tensor:
        """(B,) mean flow magnitude in pixels between the two frames (both directions averaged)."""
        m01 = self.flow_01.norm(dim=1).mean(dim=(1, 2))
        m10 = self.flow_10.norm(dim=1).mean(dim=(1, 2))
        magnitude: Tensor = 0.5 * (m01 + m10)  # (B,)
        return magnitude


# ----------------------------------------------------------------------------------------------
# Optical flow (OpenCV, on the CPU)
# ----------------------------------------------------------------------------------------------


def to_grey_uint8(images: Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """(B, C, H, W) float -> (B, H, W) uint8 grey: BT.601 luma for 3 channels, the mean otherwise."""
    x = images.detach().float().cpu()
    grey = x.mean(dim=1)  # (B, H, W)
    if x.shape[1] == 3:
        grey = LUMA[0] * x[:, 0] + LUMA[1] * x[:, 1] + LUMA[2] * x[:, 2]
    low, high = value_range
    scaled = (grey - low) * (255.0 / (high - low))
    return scaled.round().clamp(0, 255).to(torch.uint8).numpy()


def _flow_pair(a: np.ndarray, b: np.ndarray, options: FlowOptions) -> np.ndarray:
    """Flow (H, W, 2) from grey a to grey b (uint8, H x W), computed at ``min_side`` if smaller."""
    h, w = a.shape
    scale = 1.0
    if options.min_side and min(h, w) < options.min_side:
        scale = options.min_side / min(h, w)
        size = (round(w * scale), round(h * scale))
        a = cv2.resize(a, size, interpolation=cv2.INTER_CUBIC)
        b = cv2.resize(b, size, interpolation=cv2.INTER_CUBIC)
    if options.method == "dis":
        dis = cv2.DISOpticalFlow.create(DIS_PRESETS[options.preset])
        flow = dis.calc(a, b, None)  # type: ignore[call-overload]
    else:
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 5, 7, 1.5, 0)  # type: ignore[call-overload]
    if scale != 1.0:
        # Scale the vectors to the original pixels; INTER_AREA averages the fine flow per pixel.
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) / scale
    out: np.ndarray = flow  # (H, W, 2) float32
    return out


def optical_flow(a: Tensor, b: Tensor, options: FlowOptions | None = None) -> Tensor:
    """(B, C, H, W) twice -> flow (B, 2, H, W) in pixels with a(x) ~ b(x + flow(x)); no gradients."""
    options = options or FlowOptions()
    value_range = (options.value_range[0], options.value_range[1])
    grey_a, grey_b = to_grey_uint8(a, value_range), to_grey_uint8(b, value_range)
    flows = [_flow_pair(grey_a[i], grey_b[i], options) for i in range(len(grey_a))]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(a.device)  # (B, 2, H, W)


# ----------------------------------------------------------------------------------------------
# Warping and blending (torch, on the input's device)
# ----------------------------------------------------------------------------------------------


def backward_warp(image: Tensor, flow: Tensor) -> Tensor:
    """image (B, C, H, W) sampled at x + flow(x), flow (B, 2, H, W) in pixels; bilinear, borders clamped."""
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=flow.dtype),
        torch.arange(w, device=image.device, dtype=flow.dtype),
        indexing="ij",
    )  # (H, W) each
    x = xs + flow[:, 0]  # (B, H, W)
    y = ys + flow[:, 1]
    # align_corners=True: -1 and 1 are the centres of the first and last pixels.
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(
        image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=True
    )


def exclusive_mask(flow_ab: Tensor, flow_ba: Tensor, consistency_px: float) -> Tensor:
    """(B, 1, H, W) in [0, 1): how surely each pixel of frame a is hidden in frame b.

    The forward-backward error e = |F_ab(x) + F_ba(x + F_ab(x))| is ~0 where the flow comes back
    to where it started; the mask is e^2 / (e^2 + consistency_px^2).
    """
    back = backward_warp(flow_ba, flow_ab)  # (B, 2, H, W) F_ba read where x lands in b
    error2 = (flow_ab + back).pow(2).sum(dim=1, keepdim=True)  # (B, 1, H, W)
    return error2 / (error2 + consistency_px**2)


def candidate_flows(flow_01: Tensor, flow_10: Tensor, t: float, how: str) -> list[tuple[Tensor, Tensor]]:
    """The (F_t0, F_t1) candidates, each (B, 2, H, W): Super SloMo's mix first, then (select) F01's and
    F10's."""
    mixed = (-(1 - t) * t * flow_01 + t * t * flow_10, (1 - t) ** 2 * flow_01 - t * (1 - t) * flow_10)
    if how == "linear":
        return [mixed]
    return [mixed, (-t * flow_01, (1 - t) * flow_01), (t * flow_10, -(1 - t) * flow_10)]


def best_candidate(warped_0: list[Tensor], warped_1: list[Tensor]) -> Tensor:
    """(B, K, 1, H, W) one-hot: per pixel, the candidate whose two warps (B, C, H, W) agree best.

    Disagreement is the mean |W0 - W1| over channels and a 3x3 window; ties go to the earlier one.
    """
    disagreement = [
        F.avg_pool2d(
            (w0 - w1).abs().mean(dim=1, keepdim=True), 3, stride=1, padding=1, count_include_pad=False
        )
        for w0, w1 in zip(warped_0, warped_1, strict=True)
    ]  # K x (B, 1, H, W)
    lowest = functools.reduce(torch.minimum, disagreement)
    taken = torch.zeros_like(lowest, dtype=torch.bool)
    best = []
    for d in disagreement:
        pick = (d == lowest) & ~taken
        taken |= pick
        best.append(pick)
    return torch.stack(best, dim=1).to(warped_0[0].dtype)  # (B, K, 1, H, W)


def _pick(best: Tensor, values: list[Tensor]) -> Tensor:
    """Per pixel, the value of the chosen candidate: best (B, K, 1, H, W), K x (B, C, H, W) -> (B, C, H,
    W)."""
    return (best * torch.stack(values, dim=1)).sum(dim=1)


def intermediate_flows(
    before: Tensor, after: Tensor, flow_01: Tensor, flow_10: Tensor, t: float, how: str
) -> tuple[Tensor, Tensor]:
    """(F_t0, F_t1), each (B, 2, H, W): where the frame at time t finds each pixel in ``before``/``after``."""
    candidates = candidate_flows(flow_01, flow_10, t, how)
    if len(candidates) == 1:
        return candidates[0]
    best = best_candidate(
        [backward_warp(before, f0) for f0, _ in candidates],
        [backward_warp(after, f1) for _, f1 in candidates],
    )
    return _pick(best, [f0 for f0, _ in candidates]), _pick(best, [f1 for _, f1 in candidates])


def interpolate(before: Tensor, after: Tensor, options: FlowOptions | None = None) -> FlowInterpolation:
    """The frame at time ``options.t`` between ``before`` and ``after`` (B, C, H, W each)."""
    options = options or FlowOptions()
    t, c = options.t, before.shape[1]
    flow_01 = optical_flow(before, after, options).to(before.dtype)  # (B, 2, H, W)
    flow_10 = optical_flow(after, before, options).to(before.dtype)
    source_0, source_1 = before, after
    if options.blend == "occlusion":  # warp each frame's "hidden in the other frame" mask with it
        source_0 = torch.cat([before, exclusive_mask(flow_01, flow_10, options.consistency_px)], dim=1)
        source_1 = torch.cat([after, exclusive_mask(flow_10, flow_01, options.consistency_px)], dim=1)
    candidates = candidate_flows(flow_01, flow_10, t, options.intermediate)
    # Warping is per pixel, so warping with the chosen flow = choosing among the candidates' warps.
    warps_0 = [backward_warp(source_0, f0) for f0, _ in candidates]  # K x (B, C (+1), H, W)
    warps_1 = [backward_warp(source_1, f1) for _, f1 in candidates]
    if len(candidates) == 1:
        warped_0, warped_1 = warps_0[0], warps_1[0]
        flow_t0, flow_t1 = candidates[0]
    else:
        best = best_candidate([w[:, :c] for w in warps_0], [w[:, :c] for w in warps_1])
        warped_0, warped_1 = _pick(best, warps_0), _pick(best, warps_1)
        flow_t0, flow_t1 = (
            _pick(best, [f0 for f0, _ in candidates]),
            _pick(best, [f1 for _, f1 in candidates]),
        )
    if options.blend == "average":
        weight_0 = torch.full_like(warped_0[:, :1], 1 - t)  # (B, 1, H, W)
    else:
        eps = 1e-3
        only_0, only_1 = warped_0[:, c:], warped_1[:, c:]  # (B, 1, H, W) content exclusive to one frame
        w0 = (1 - t) * (1 - only_1 + eps)
        w1 = t * (1 - only_0 + eps)
        weight_0 = w0 / (w0 + w1)
    frame = weight_0 * warped_0[:, :c] + (1 - weight_0) * warped_1[:, :c]  # (B, C, H, W)
    return FlowInterpolation(
        frame, flow_01, flow_10, weight_0, flow_t0, flow_t1, warped_0[:, :c], warped_1[:, :c]
    )


def middle_frame(context: Tensor, options: FlowOptions | None = None) -> Tensor:
    """Context frames (B, N-1, C, H, W), the target withheld -> the target (B, C, H, W) by flow."""
    k = context.shape[1] // 2
    return interpolate(context[:, k - 1], context[:, k], options).frame
