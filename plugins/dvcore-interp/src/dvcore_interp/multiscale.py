"""Coarse-to-fine patch interpolation: a window at 1/2^k resolution follows 2^k times the motion.

A 16 px window with an 8 px block sees 4 px around its block, so at full resolution the patch
interpolator cannot follow an object that moves further than that between frames. With
``scales = K`` the input (the frames, plus the flow-warped frames when asked) and the prior are
averaged down to K resolutions, 1/2^(K-1) .. 1, and one stage runs per scale, coarsest first:

    correction = 0 at 1/2^(K-1)
    for k = K-1 .. 0:
        correction = upsample(correction) to scale k          (bilinear; skipped at the coarsest)
        estimate   = prior_k + correction                     (the current guess at scale k)
        correction = correction + stage_k([inputs_k, estimate_k], t)
    output = prior + correction        (residual = false: output = correction, prior = 0)

Each stage is a single-scale ``PatchInterpolator`` (overlapping windows, transformer, stitched
blocks, optional conv head, linear or quantized tokens) whose input holds the current estimate as
one more frame. Corrections, not estimates, are upsampled, so the prior's fine detail survives and,
with every stage's last layer zero at init, the model starts exactly at its prior. At 1/4 scale a
16 px window covers 64 px of the frame; stage k runs over 1/4^k of the full-resolution windows, so
K stages cost less than 4/3 of one in memory and compute. ``shared_scales``: one stage for all
scales, told which scale it is at by a learned embedding added to t's; otherwise one per scale.

Sizes: any H, W (each scale is ceil(half) of the next); with sides multiples of
``tgt_field * 2^(K-1)`` (``block_grid``) every scale's block grid lines up with the full frame,
which is what tiled inference needs to match the untiled output (``exact_tile_margin``).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from dvcore.api import raise_problems
from dvcore_interp.patch_interpolator import PatchInterpolator
from dvcore_interp.prior import resolve_prior

Tensor = torch.Tensor


def block_grid(options: Any) -> int:
    """Tiles and frame sides that are multiples of this keep every scale's block grid aligned."""
    return options.tgt_field * 2 ** (options.scales - 1)


def exact_tile_margin(options: Any) -> int:
    """Full-resolution pixels next to a tile cut whose output differs from the untiled one.

    With tiles starting on ``block_grid``, a cut changes, at each scale, the blocks whose window
    reaches past the cut or past what was already changed (u pixels): ceil((u + margin) / tgt)
    blocks, one pixel more with a conv head. Going one scale finer, bilinear upsampling turns u
    changed pixels into 2u + 1. ``tiled_predict`` with this margin (and align = block_grid)
    returns the untiled output (for the blend prior; the flow prior looks at the whole tile).
    """
    margin, tgt = (options.src_field - options.tgt_field) // 2, options.tgt_field
    conv = 1 if options.head == "conv" else 0
    changed = 0
    for k in reversed(range(options.scales)):
        if k < options.scales - 1:
            changed = 2 * changed + 1  # bilinear upsampling of the correction to scale k
        changed = math.ceil((changed + margin) / tgt) * tgt + conv
    return changed


def downsample(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, C, H, W) -> (B, C, h, w) by area averaging (exact 2^k x 2^k means on aligned sides)."""
    return x if tuple(x.shape[-2:]) == size else F.adaptive_avg_pool2d(x, size)


class MultiScaleInterpolator(nn.Module):
    """Patch interpolators from 1/2^(K-1) resolution to full, each correcting the upsampled guess."""

    def __init__(self, options: Any, *, in_channels: int, out_channels: int):
        super().__init__()
        o = options
        problems = [f"{path}: {msg}" for path, msg in o.problems()]
        if in_channels % o.frame_channels:
            problems.append(
                f"in_channels: expected a multiple of frame_channels ({o.frame_channels}), got {in_channels}"
            )
        if out_channels % o.frame_channels:
            problems.append(
                f"out_channels: expected a multiple of frame_channels ({o.frame_channels}) for "
                f"scales > 1 (the estimate is a stage input), got {out_channels}"
            )
        num_frames = in_channels // o.frame_channels
        self.prior_fn, prior_problems = resolve_prior(o, num_frames=num_frames, out_channels=out_channels)
        problems += prior_problems
        raise_problems("patch_interpolator", problems)

        self.scales, self.residual, self.out_channels = o.scales, o.residual, out_channels
        self.src_field, self.tgt_field = o.src_field, o.tgt_field  # a per-block loss may read tgt_field
        extra = self.prior_fn.extra_channels if self.prior_fn is not None else 0
        stage_options = attrs.evolve(
            o, residual=False, warped_inputs=False, prior="blend", prior_frames=None, scales=1
        )
        stage_in = in_channels + extra + out_channels  # frames, warped frames, current estimate
        count = 1 if o.shared_scales else o.scales
        self.stages = nn.ModuleList(
            PatchInterpolator(stage_options, in_channels=stage_in, out_channels=out_channels)
            for _ in range(count)
        )
        # Shared weights: each scale adds its own (learned, zero at init) vector to t's embedding.
        self.scale_embed = nn.Parameter(torch.zeros(o.scales, o.dims.width)) if o.shared_scales else None

    def sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(h, w) at each scale, full resolution first: each is the ceil of half the previous."""
        sizes = [(height, width)]
        for _ in range(1, self.scales):
            h, w = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2))
        return sizes

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        b, _, h, w = x.shape
        prior, extra = self.prior_fn(x) if self.prior_fn is not None else (None, None)
        inputs = x if extra is None else torch.cat([x, extra], dim=1)  # (B, C_in + E, H, W)
        if prior is None or not self.residual:
            prior = x.new_zeros(b, self.out_channels, h, w)  # (B, C_out, H, W)
        sizes = self.sizes(h, w)
        correction: Tensor | None = None
        for k in reversed(range(self.scales)):
            prior_k = downsample(prior, sizes[k])  # (B, C_out, h_k, w_k)
            if correction is None:
                correction = torch.zeros_like(prior_k)
            else:
                correction = F.interpolate(correction, size=sizes[k], mode="bilinear", align_corners=False)
            stage_in = torch.cat(
                [downsample(inputs, sizes[k]), prior_k + correction], dim=1
            )  # (B, C_s, h_k, w_k)
            stage = self.stages[0 if self.scale_embed is not None else k]
            cond = None if self.scale_embed is None else self.scale_embed[k].expand(b, -1)  # (B, D)
            correction = correction + stage(stage_in, t, cond)  # (B, C_out, h_k, w_k)
        assert correction is not None
        return prior + correction  # (B, C_out, H, W)
