"""The patch interpolator of the seed notes: a transformer over pixel tokens in overlapping windows.

The image is cut into windows of ``src_field`` pixels taken every ``tgt_field`` pixels, so each
window sees a margin of (src_field - tgt_field) / 2 pixels around the central block it predicts
and neighbouring windows overlap (the fix for the edge effects of disjoint blocks, docs/lab_notes.md §I3). A
window's pixels become tokens (projected, or quantized into colour codes and embedded), a
pre-norm transformer mixes them, and the tokens of the central block are projected back to
pixels and stitched into the image; an optional conv head then smooths the block seams.

Input: the frames channel-concatenated, x (B, F * frame_channels, H, W) in [0, 1], and t (B,)
(zeros in regression; in diffusion mode the noisy frame is one of the F frames and t varies).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from dvcore.api import raise_problems
from dvcore.nn import TimestepEmbedder, TransformerBlock, sincos_2d
from dvcore_interp.options import PatchInterpolatorOptions
from dvcore_interp.prior import resolve_prior
from dvcore_interp.warp_head import MOTION_CHANNELS, WarpHead, head_channels

# ----------------------------------------------------------------------------------------------
# Token embeddings
# ----------------------------------------------------------------------------------------------


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(N, C, S, S) -> (N, (S/p)^2, C*p*p): each token holds the p x p pixels of every channel."""
    n, c, s, _ = x.shape
    g = s // p
    x = x.reshape(n, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5)  # (N, g, g, C, p, p)
    return x.reshape(n, g * g, c * p * p)


def unpatchify(x: torch.Tensor, p: int, channels: int) -> torch.Tensor:
    """(N, g*g, C*p*p) -> (N, C, g*p, g*p): the inverse of ``patchify``."""
    n, tokens, _ = x.shape
    g = math.isqrt(tokens)
    x = x.reshape(n, g, g, channels, p, p).permute(0, 3, 1, 4, 2, 5)  # (N, C, g, p, g, p)
    return x.reshape(n, channels, g * p, g * p)


class LinearTokens(nn.Module):
    """Linear tokens: a token's values (every frame's pixels at its position) projected to d_model."""

    def __init__(self, in_channels: int, patch: int, dim: int):
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(in_channels * patch * patch, dim)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(windows, self.patch))  # (N, G*G, D)


class QuantizedTokens(nn.Module):
    """Quantized tokens: each pixel's colour becomes one of levels ** frame_channels codes.

    A code is embedded by one table shared by all frames and sub-pixels; the token is the
    projection of the concatenated embeddings of its frames x sub-pixels. Concatenation keeps
    which frame a colour came from; summing with an added per-frame embedding would not (the
    sum of the frame embeddings is a constant, so the result would ignore frame order).
    """

    def __init__(self, num_frames: int, frame_channels: int, levels: int, patch: int, dim: int):
        super().__init__()
        self.num_frames, self.frame_channels, self.levels, self.patch = (
            num_frames,
            frame_channels,
            levels,
            patch,
        )
        self.embedding = nn.Embedding(levels**frame_channels, dim)
        self.proj = nn.Linear(num_frames * patch * patch * dim, dim)
        # Code = sum_c level_c * levels ** (C-1-c): channel 0 (red) is the most significant digit.
        weights = levels ** torch.arange(frame_channels - 1, -1, -1)
        self.register_buffer("digit_weights", weights.view(1, 1, -1, 1, 1), persistent=False)

    def codes(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, F*C, S, S) in [0, 1] -> (N, F, S, S) integer colour codes."""
        n, _, s, _ = windows.shape
        x = windows.reshape(n, self.num_frames, self.frame_channels, s, s)  # (N, F, C, S, S)
        level = (x.clamp(0, 1) * self.levels).long().clamp_(max=self.levels - 1)  # (N, F, C, S, S)
        return (level * self.digit_weights).sum(2)  # (N, F, S, S)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        codes = patchify(self.codes(windows), self.patch)  # (N, G*G, F*p*p)
        emb = self.embedding(codes)  # (N, G*G, F*p*p, D)
        return self.proj(emb.flatten(2))  # (N, G*G, D)


# ----------------------------------------------------------------------------------------------
# Output head (the transformer blocks are dvcore.nn's pre-norm TransformerBlock)
# ----------------------------------------------------------------------------------------------


class ConvHead(nn.Module):
    """GELU then a 3x3 conv over the stitched map, mixing across block seams (lab notes §I3)."""

    def __init__(self, channels: int, out_channels: int, stride: int):
        super().__init__()
        self.act = nn.GELU(approximate="tanh")
        self.conv = nn.Conv2d(channels, out_channels, 3, stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.act(x))  # (B, C_out, H, W)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class PatchInterpolator(nn.Module):
    """Overlapping windows of pixel tokens -> transformer -> central blocks stitched into the frame."""

    def __init__(self, options: PatchInterpolatorOptions, *, in_channels: int, out_channels: int):
        super().__init__()
        o = options
        problems = [f"{path}: {msg}" for path, msg in o.problems()]
        if in_channels % o.frame_channels:
            problems.append(
                f"in_channels: expected a multiple of frame_channels ({o.frame_channels}), got {in_channels}"
            )
        self.num_frames = in_channels // o.frame_channels
        self.prior_fn, prior_problems = resolve_prior(
            o, num_frames=self.num_frames, out_channels=out_channels
        )
        problems += prior_problems
        raise_problems("patch_interpolator", problems)
        extra = self.prior_fn.extra_channels if self.prior_fn is not None else 0  # the warped frames
        self.motion_inputs = o.motion_inputs
        extra += MOTION_CHANNELS if o.motion_inputs else 0  # F_t0, F_t1, w

        depth, d_model, heads = o.dims
        self.in_channels, self.out_channels, self.frame_channels = in_channels, out_channels, o.frame_channels
        self.src_field, self.tgt_field = o.src_field, o.tgt_field  # a per-block loss may read tgt_field
        self.margin = (o.src_field - o.tgt_field) // 2
        self.token_patch, self.padding, self.residual = o.token_patch, o.padding, o.residual
        self.window_chunk = o.window_chunk
        # train.grad_checkpointing: keep only each window chunk's input and recompute the chunk's
        # transformer in backward, so window_chunk bounds training memory too (not only inference).
        self.grad_checkpointing = False
        self.grid = o.src_field // o.token_patch  # tokens per window side
        self.tgt_grid = o.tgt_field // o.token_patch  # tokens per block side

        if o.tokens == "linear":
            self.embed: nn.Module = LinearTokens(in_channels + extra, o.token_patch, d_model)
        else:
            frames_in = (in_channels + extra) // o.frame_channels
            self.embed = QuantizedTokens(frames_in, o.frame_channels, o.quant_levels, o.token_patch, d_model)
        pos = sincos_2d(d_model, self.grid, self.grid, column_first=False).float()  # (G*G, D)
        if o.pos_embed == "learned":
            self.pos_embed = nn.Parameter(pos)
        else:
            self.register_buffer("pos_embed", pos, persistent=False)
        self.t_embedder = TimestepEmbedder(d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model, heads, mlp_ratio=o.mlp_ratio, dropout=o.dropout, attn_dropout=o.attn_dropout
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(d_model)

        # Learned motion: the network draws flow and mask corrections and a residual (warp_head.py).
        self.warp_head = WarpHead(o.frame_channels) if o.motion == "learned" else None
        drawn = head_channels(o.frame_channels) if self.warp_head is not None else out_channels
        # The token head draws `scale` x the resolution with `head_channels` channels.
        self.scale = o.conv_head_stride if o.head == "conv" else 1
        self.head_channels = o.conv_head_channels if o.head == "conv" else drawn
        self.head = nn.Linear(d_model, (o.token_patch * self.scale) ** 2 * self.head_channels)
        self.conv_head = ConvHead(self.head_channels, drawn, self.scale) if o.head == "conv" else None
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """Xavier linears (as DiT); small embeddings; zero output layer so the model starts at its prior."""

        def _linear(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(_linear)
        if isinstance(self.embed, QuantizedTokens):
            nn.init.normal_(self.embed.embedding.weight, std=0.02)
        for layer in (self.t_embedder.mlp[0], self.t_embedder.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        # The last layer starts at zero: the output is exactly the residual prior (or 0) at step 0.
        last = self.conv_head.conv if self.conv_head is not None else self.head
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    # -- windows ------------------------------------------------------------------------------

    def extract_windows(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """(B, C, H, W) -> (B*nh*nw, C, S, S) windows every tgt_field pixels, and (nh, nw)."""
        b, c, h, w = x.shape
        s, t, m = self.src_field, self.tgt_field, self.margin
        pad_h, pad_w = -h % t, -w % t  # up to a multiple of tgt_field, then the margin all round
        pads = (m, m + pad_w, m, m + pad_h)  # (left, right, top, bottom)
        mode = self.padding if pads[1] < w and pads[3] < h else "replicate"  # reflect needs pad < size
        xp = F.pad(x, pads, mode=mode)  # (B, C, nh*T + 2m, nw*T + 2m)
        win = xp.unfold(2, s, t).unfold(3, s, t)  # (B, C, nh, nw, S, S)
        nh, nw = win.shape[2], win.shape[3]
        win = win.permute(0, 2, 3, 1, 4, 5).reshape(b * nh * nw, c, s, s)  # (B*nh*nw, C, S, S)
        return win, nh, nw

    def stitch(self, blocks: torch.Tensor, b: int, nh: int, nw: int) -> torch.Tensor:
        """(B*nh*nw, C, K, K) blocks -> (B, C, nh*K, nw*K) image, row-major as extracted."""
        _, c, k, _ = blocks.shape
        img = blocks.reshape(b, nh, nw, c, k, k).permute(0, 3, 1, 4, 2, 5)  # (B, C, nh, K, nw, K)
        return img.reshape(b, c, nh * k, nw * k)

    def predict_blocks(self, windows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(N, C_in, S, S) windows and (N, D) timestep embeddings -> (N, C_head, T*s, T*s) blocks."""
        x = self.embed(windows) + self.pos_embed + cond[:, None]  # (N, G*G, D)
        for block in self.blocks:
            x = block(x)  # (N, G*G, D)
        n, g, a = x.shape[0], self.tgt_grid, self.margin // self.token_patch
        x = x.reshape(n, self.grid, self.grid, -1)[:, a : a + g, a : a + g]  # (N, g, g, D) the central block
        x = x.reshape(n, g * g, -1)  # (N, g*g, D)
        x = self.head(self.norm(x))  # (N, g*g, (p*s)^2 * C_head)
        return unpatchify(x, self.token_patch * self.scale, self.head_channels)  # (N, C_head, T*s, T*s)

    def _chunk_blocks(self, windows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``predict_blocks`` on one chunk of windows, recomputed in backward under grad_checkpointing."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(self.predict_blocks, windows, cond, use_reentrant=False)
        return self.predict_blocks(windows, cond)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C_in, H, W), t (B,) -> (B, C_out, H, W); ``cond`` (B, D), if given, is added to t's
        embedding.
        """
        b, _, h, w = x.shape
        motion = self.prior_fn.motion(x) if self.prior_fn is not None else None
        prior, extra = (motion.frame, motion.warped) if motion is not None else (None, None)
        inputs = x if extra is None else torch.cat([x, extra], dim=1)  # (B, C_in + E, H, W)
        if self.motion_inputs:
            assert motion is not None and motion.flow_t0 is not None and motion.flow_t1 is not None
            assert motion.weight_0 is not None
            flows = torch.cat([motion.flow_t0, motion.flow_t1, motion.weight_0], dim=1)  # (B, 5, H, W)
            inputs = torch.cat([inputs, flows], dim=1)  # (B, C_in + E + 5, H, W)
        windows, nh, nw = self.extract_windows(inputs)  # (B*L, C_in + E, S, S), L = nh*nw
        emb = self.t_embedder(t) if cond is None else self.t_embedder(t) + cond  # (B, D)
        cond = emb.repeat_interleave(nh * nw, dim=0)  # (B*L, D)
        chunk = self.window_chunk or windows.shape[0]
        parts = zip(windows.split(chunk), cond.split(chunk), strict=True)
        blocks = torch.cat([self._chunk_blocks(w, c) for w, c in parts])  # (B*L, C_head, T*s, T*s)
        y = self.stitch(blocks, b, nh, nw)[..., : h * self.scale, : w * self.scale]  # (B, C_head, H*s, W*s)
        if self.conv_head is not None:
            y = self.conv_head(y)  # (B, C_out, H, W) (learned motion: (B, 5 + C, H, W))
        if self.warp_head is not None:
            assert motion is not None
            return self.warp_head(y, motion)  # (B, C_out, H, W)
        if self.residual:
            y = y + prior  # (B, C_out, H, W)
        return y
