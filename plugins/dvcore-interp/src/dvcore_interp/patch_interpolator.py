"""The patch interpolator of the seed notes: a transformer over pixel tokens in overlapping windows.

The image is cut into windows of ``src_field`` pixels taken every ``tgt_field`` pixels, so each
window sees a margin of (src_field - tgt_field) / 2 pixels around the central block it predicts
and neighbouring windows overlap (the notes' fix for the edge effects of disjoint blocks). A
window's pixels become tokens (projected, or quantized into colour codes and embedded), a
pre-norm transformer mixes them, and the tokens of the central block are projected back to
pixels and stitched into the image; an optional conv head then smooths the block seams.

Input: the frames channel-concatenated, x (B, F * frame_channels, H, W) in [0, 1], and t (B,)
(zeros in regression; in diffusion mode the noisy frame is one of the F frames and t varies).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from dvcore.nn.embeddings import TimestepEmbedder
from dvcore.options import each, ge, gt, lt, opt

# ----------------------------------------------------------------------------------------------
# Size presets
# ----------------------------------------------------------------------------------------------

#: size -> (d_model, depth, heads). XS is the CPU default; L is the notes' width on GPU.
PRESETS: dict[str, tuple[int, int, int]] = {
    "XS": (64, 2, 4),
    "S": (128, 4, 4),
    "M": (256, 6, 8),
    "L": (512, 8, 8),
}

#: Largest colour codebook a quantized model may ask for (quant_levels ** frame_channels).
MAX_CODES = 65_536


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


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
        "linear", "linear: pixel values projected; quantized: colour codes embedded (the notes' 512 levels)"
    )
    token_patch: int = opt(1, "pixels per token side: 1 = pixels (the notes), 2 = 2x2 sub-patches", gt(0))
    quant_levels: int = opt(
        8, "quantized: levels per channel; levels ** frame_channels codes (8**3 = 512)", ge(2)
    )
    pos_embed: Literal["learned", "sincos"] = opt(
        "learned", "2D position of a token in its window: learned (starts as sin-cos) or fixed sin-cos"
    )
    head: Literal["none", "conv"] = opt("none", "conv: a 3x3 conv over the stitched map removes seams")
    conv_head_stride: Literal[1, 2] = opt(
        2, "conv head: 2 = tokens draw a 2x map that a stride-2 conv brings back (the notes); 1 = at 1x"
    )
    conv_head_channels: int = opt(32, "conv head: channels of the map the tokens draw", gt(0))
    residual: bool = opt(False, "predict the residual over the mean of the prior frames (speeds training)")
    prior_frames: list[int] | None = opt(
        None, "residual: frames averaged into the prior; unset = the middle two (even count)", each(ge(0))
    )
    window_chunk: int | None = opt(None, "windows run at once, to bound memory; unset = all", gt(0))

    @property
    def dims(self) -> tuple[int, int, int]:
        """(d_model, depth, heads): the preset with explicit values laid over it."""
        d_model, depth, heads = PRESETS[self.size]
        return (self.d_model or d_model, self.depth or depth, self.heads or heads)

    def problems(self) -> Iterable[tuple[str, str]]:
        """Checks across fields: (field, message) pairs for the recipe's error report."""
        d_model, _, heads = self.dims
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
        codes = self.quant_levels**self.frame_channels
        if self.tokens == "quantized" and codes > MAX_CODES:
            yield "quant_levels", f"expected quant_levels ** frame_channels <= {MAX_CODES} codes, got {codes}"


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
# Transformer blocks
# ----------------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention through scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int, attn_dropout: float, dropout: float):
        super().__init__()
        self.heads, self.attn_dropout = heads, attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (N, h, L, D/h)
        p = self.attn_dropout if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (N, h, L, D/h)
        x = x.transpose(1, 2).reshape(n, length, dim)  # (N, L, D)
        return self.proj_drop(self.proj(x))  # (N, L, D)


class Mlp(nn.Module):
    """Two-layer GELU MLP."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.act, self.drop = nn.GELU(approximate="tanh"), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(x)))  # (N, L, hidden)
        return self.drop(self.fc2(x))  # (N, L, D)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float, attn_dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, attn_dropout, dropout)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))  # (N, L, D)
        return x + self.mlp(self.norm2(x))  # (N, L, D)


class ConvHead(nn.Module):
    """GELU then a 3x3 conv over the stitched map, mixing across block seams (the notes' Conv2d(ic, 3, 3, 2, 1))."""

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
        if o.residual:
            self.prior_frames = list(o.prior_frames) if o.prior_frames is not None else self._middle_frames()
            problems += self._prior_problems(o, out_channels)
        if problems:
            raise ValueError("patch_interpolator: " + "; ".join(problems))

        d_model, depth, heads = o.dims
        self.in_channels, self.out_channels, self.frame_channels = in_channels, out_channels, o.frame_channels
        self.src_field, self.tgt_field = o.src_field, o.tgt_field  # a per-block loss may read tgt_field
        self.margin = (o.src_field - o.tgt_field) // 2
        self.token_patch, self.padding, self.residual = o.token_patch, o.padding, o.residual
        self.window_chunk = o.window_chunk
        self.grid = o.src_field // o.token_patch  # tokens per window side
        self.tgt_grid = o.tgt_field // o.token_patch  # tokens per block side

        if o.tokens == "linear":
            self.embed: nn.Module = LinearTokens(in_channels, o.token_patch, d_model)
        else:
            self.embed = QuantizedTokens(
                self.num_frames, o.frame_channels, o.quant_levels, o.token_patch, d_model
            )
        pos = sincos_pos_embed_2d(d_model, self.grid)  # (G*G, D)
        if o.pos_embed == "learned":
            self.pos_embed = nn.Parameter(pos)
        else:
            self.register_buffer("pos_embed", pos, persistent=False)
        self.t_embedder = TimestepEmbedder(d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, heads, o.mlp_ratio, o.dropout, o.attn_dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(d_model)

        # The token head draws `scale` x the resolution with `head_channels` channels.
        self.scale = o.conv_head_stride if o.head == "conv" else 1
        self.head_channels = o.conv_head_channels if o.head == "conv" else out_channels
        self.head = nn.Linear(d_model, (o.token_patch * self.scale) ** 2 * self.head_channels)
        self.conv_head = ConvHead(self.head_channels, out_channels, self.scale) if o.head == "conv" else None
        self.initialize_weights()

    def _middle_frames(self) -> list[int]:
        """The two frames around the middle of an even count (the blend baseline); none for an odd one."""
        k = self.num_frames // 2
        return [k - 1, k] if self.num_frames % 2 == 0 else []

    def _prior_problems(self, o: PatchInterpolatorOptions, out_channels: int) -> list[str]:
        problems = []
        if out_channels != o.frame_channels:
            problems.append(
                f"residual: expected out_channels == frame_channels ({o.frame_channels}), got {out_channels}"
            )
        if not self.prior_frames:
            problems.append(f"prior_frames: required for an odd number of frames ({self.num_frames})")
        elif max(self.prior_frames) >= self.num_frames:
            problems.append(f"prior_frames: expected indices < {self.num_frames}, got {self.prior_frames}")
        return problems

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

    def prior(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of the prior frames: (B, F*C, H, W) -> (B, C, H, W)."""
        b, _, h, w = x.shape
        frames = x.reshape(b, self.num_frames, self.frame_channels, h, w)  # (B, F, C, H, W)
        return frames[:, self.prior_frames].mean(1)  # (B, C, H, W)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        windows, nh, nw = self.extract_windows(x)  # (B*L, C_in, S, S), L = nh*nw
        cond = self.t_embedder(t).repeat_interleave(nh * nw, dim=0)  # (B*L, D)
        chunk = self.window_chunk or windows.shape[0]
        parts = zip(windows.split(chunk), cond.split(chunk), strict=True)
        blocks = torch.cat([self.predict_blocks(w, c) for w, c in parts])  # (B*L, C_head, T*s, T*s)
        y = self.stitch(blocks, b, nh, nw)[..., : h * self.scale, : w * self.scale]  # (B, C_head, H*s, W*s)
        if self.conv_head is not None:
            y = self.conv_head(y)  # (B, C_out, H, W)
        if self.residual:
            y = y + self.prior(x)  # (B, C_out, H, W)
        return y


def build_patch_interpolator(
    options: PatchInterpolatorOptions, *, in_channels: int, out_channels: int
) -> PatchInterpolator:
    """Patch interpolator (seed notes): overlapping windows of pixel tokens, a transformer, stitched blocks."""
    return PatchInterpolator(options, in_channels=in_channels, out_channels=out_channels)


# ----------------------------------------------------------------------------------------------
# Positional embedding helpers
# ----------------------------------------------------------------------------------------------


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(P,) positions -> (P, dim): sin and cos at frequencies 1 .. 1/10000 (odd dim: a zero column)."""
    half = dim // 2
    omega = 1.0 / 10_000 ** (torch.arange(half, dtype=torch.float64) / max(half, 1))
    args = positions.double()[:, None] * omega[None]  # (P, half)
    emb = torch.cat([torch.sin(args), torch.cos(args), torch.zeros(len(positions), dim - 2 * half)], dim=1)
    return emb.float()  # (P, dim)


def sincos_pos_embed_2d(dim: int, grid: int) -> torch.Tensor:
    """(grid*grid, dim) embedding of a square grid, row-major: half the dims code the row, half the column."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    dim_r = dim // 2
    return torch.cat([sincos_1d(dim_r, rows.flatten()), sincos_1d(dim - dim_r, cols.flatten())], dim=1)
