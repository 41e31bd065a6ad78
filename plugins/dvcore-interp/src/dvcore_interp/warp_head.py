"""Learned motion (``motion = "learned"``): the network corrects the flow prior's flows and blend mask.

With the flow prior, the frame at the target time is

    prior = w * warp(before, F_t0) + (1 - w) * warp(after, F_t1)

(the flow baseline, ``dvcore.api.flow_interpolate``: its intermediate flows F_t0, F_t1 and its
occlusion weight w). Where it goes wrong on small clips — at shape boundaries, where one frame
is occluded and the mask mixes in the wrong surface; where DIS is off by a fraction of a pixel;
where the motion accelerates and the linear t = 0.5 flow misses — an RGB correction has to
redraw texture, while a correction of the flow or the mask only has to move or choose it. So
with ``motion = "learned"`` the windows' transformer draws, per pixel, 4 + 1 + C channels
instead of C (RIFE / IFNet's head, Huang et al., ECCV 2022, over a classical flow):

    d0, d1   (2 + 2) flow corrections in pixels
    dm       (1)     a blend-mask logit added to logit(w)
    r        (C)     an RGB residual

    frame = m * warp(before, F_t0 + d0) + (1 - m) * warp(after, F_t1 + d1) + r,
    m = sigmoid(logit(w) + dm)

Warping is bilinear ``grid_sample`` (``dvcore.api.backward_warp``), differentiable in the flow.
The last layer starts at zero, so at step 0 the output is the flow prior (to float rounding).
``motion_inputs`` also shows the windows the flows and the weight they correct (5 input channels).
"""

from __future__ import annotations

import torch
from torch import nn

from dvcore.api import backward_warp
from dvcore_interp.prior import FlowMotion

Tensor = torch.Tensor

#: ``motion_inputs``: the channels the prior's motion adds to the input (F_t0, F_t1 in pixels, w).
MOTION_CHANNELS = 5

#: The prior's occlusion weight is kept this far from 0 and 1 before its logit is taken.
MASK_EPS = 1e-4


def head_channels(frame_channels: int) -> int:
    """Channels the network draws for the warping head: two flow corrections, a mask logit, RGB."""
    return 4 + 1 + frame_channels


class WarpHead(nn.Module):
    """(B, 5 + C, H, W) drawn channels and the flow prior's parts -> the frame (B, C, H, W)."""

    def __init__(self, frame_channels: int, flow_scale: float = 1.0):
        super().__init__()
        self.frame_channels, self.flow_scale = frame_channels, flow_scale

    def forward(self, drawn: Tensor, motion: FlowMotion) -> Tensor:
        m = motion
        assert m.before is not None and m.after is not None and m.weight_0 is not None
        assert m.flow_t0 is not None and m.flow_t1 is not None
        d0, d1, dm, residual = drawn.split([2, 2, 1, self.frame_channels], dim=1)
        warp_0 = backward_warp(m.before, m.flow_t0 + self.flow_scale * d0)  # (B, C, H, W)
        warp_1 = backward_warp(m.after, m.flow_t1 + self.flow_scale * d1)  # (B, C, H, W)
        mask = torch.sigmoid(torch.logit(m.weight_0.clamp(MASK_EPS, 1 - MASK_EPS)) + dm)  # (B, 1, H, W)
        return mask * warp_0 + (1 - mask) * warp_1 + residual  # (B, C, H, W)
