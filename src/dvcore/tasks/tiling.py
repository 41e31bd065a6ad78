"""Tiled inference on full frames: overlapping tiles, blended without seams, in bounded memory.

A model trained on 64x64 crops meets a 448x256 Vimeo frame, or a frame too large
for memory in one pass. ``tiled_predict`` cuts the frame into ``tile``-sized tiles
that overlap by ``overlap`` pixels, runs the model on ``chunk`` tiles at a time and
blends the outputs with weights that fall smoothly to zero towards each tile's
inner edges, divided by the summed weight at every pixel.

The blend window, per axis, on a side that has a neighbouring tile (image borders
keep weight 1, since there the tile sees what the whole frame would):

    |<-- margin -->|<------ ramp ------>|<-- interior: 1 ... -->
         weight 0    sin^2 rising 0 -> 1

with margin = ``overlap // 4`` (unless given) and ramp = overlap - 2 * margin.
The margin throws away the pixels next to a tile's cut, where the model sees the
cut instead of the image; the ramps of two neighbours are sin^2 and cos^2 of the
same argument over the same pixels, so on a regular grid the weights sum to 1 by
themselves (a partition of unity) and the blend is a cross-fade with no step. So:

- a model whose output at a pixel depends only on inputs within ``margin`` pixels
  of it (a local, translation-equivariant net) gives exactly its untiled output;
- any other model (windowed attention, a global term) gets a smooth cross-fade
  between tiles instead of a visible seam at every tile border.

Sizes that are not a multiple of the tile step: the tiles of a row or column are
spread evenly from edge to edge, each overlapping its neighbour by at least
``overlap`` (the weights are normalised, so a larger overlap is harmless); so
the model only ever sees ``tile``-sized inputs (models that need sizes divisible
by 8 or 16 stay happy). A frame narrower than a tile along an axis is one tile
across along it: the model sees that axis whole, as it would untiled.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------


def tile_starts(size: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets along one axis, each neighbour overlapping by at least ``overlap`` pixels.

    ``align`` = 1: as few tiles as cover ``size``, spread evenly from edge to edge (on a
    regular grid, size - tile a multiple of tile - overlap, that is every tile - overlap
    pixels). ``align`` > 1: starts at multiples of ``align`` every (tile - overlap rounded
    down to a multiple of align) pixels, and the last tile shifted inward to end at ``size``.
    """
    if size <= tile:
        return [0]
    if align == 1:
        n = math.ceil((size - tile) / (tile - overlap)) + 1
        return [round(k * (size - tile) / (n - 1)) for k in range(n)]
    step = (tile - overlap) // align * align
    if step <= 0:
        raise ValueError(
            f"expected tile - overlap >= align, got tile {tile}, overlap {overlap}, align {align}"
        )
    return [*range(0, size - tile, step), size - tile]


def ramp_window(tile: int, overlap: int, margin: int, left: bool, right: bool) -> torch.Tensor:
    """Blend weights (tile,) along one axis; ``left``/``right``: whether that side has a neighbour."""
    w = torch.ones(tile, dtype=torch.float64)
    if not (left or right):
        return w
    ramp = overlap - 2 * margin
    # sin^2 over the ramp's pixel centres: rising 0 -> 1, and 1 - sin^2 = cos^2 mirrors it exactly
    rise = torch.sin(0.5 * math.pi * (torch.arange(ramp, dtype=torch.float64) + 0.5) / max(ramp, 1)) ** 2
    profile = torch.cat([torch.zeros(margin, dtype=torch.float64), rise, torch.ones(tile - margin - ramp)])
    if left:
        w = w * profile
    if right:
        w = w * profile.flip(0)  # a tile narrower than two overlaps gets the product of both ramps
    return w


def axis_windows(
    size: int, tile: int, overlap: int, margin: int, align: int = 1
) -> tuple[int, list[tuple[int, torch.Tensor]]]:
    """The tile length along one axis (``tile``, or ``size`` when smaller) and each tile's (start,
    weights)."""
    tile = min(tile, size)  # a frame narrower than a tile is one tile across: seen whole, as untiled
    starts = tile_starts(size, tile, overlap, align)
    return tile, [(s, ramp_window(tile, overlap, margin, left=s > 0, right=s + tile < size)) for s in starts]


def blend_weights(
    height: int,
    width: int,
    tile: int | tuple[int, int],
    overlap: int | tuple[int, int],
    margin: int | tuple[int, int] | None = None,
    align: int = 1,
) -> torch.Tensor:
    """The summed blend weight of all tiles at each pixel (H, W), before normalisation.

    1 everywhere on a regular grid (size - tile a multiple of tile - overlap);
    elsewhere positive everywhere, and the blend divides by it.
    """
    (th, tw), (oh, ow), (mh, mw) = _pairs(tile, overlap, margin)
    (th, rows), (tw, cols) = axis_windows(height, th, oh, mh, align), axis_windows(width, tw, ow, mw, align)
    total = torch.zeros(height, width, dtype=torch.float64)
    for y, wy in rows:
        for x, wx in cols:
            total[y : y + th, x : x + tw] += wy[:, None] * wx[None, :]
    return total


def _pairs(
    tile: int | tuple[int, int], overlap: int | tuple[int, int], margin: int | tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    def pair(v: int | tuple[int, int]) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))

    t, o = pair(tile), pair(overlap)
    m = (o[0] // 4, o[1] // 4) if margin is None else pair(margin)
    for axis in range(2):
        if t[axis] <= 0 or not 0 <= o[axis] < t[axis]:
            raise ValueError(f"expected 0 <= overlap < tile, got overlap {o[axis]} for tile {t[axis]}")
        if not 0 <= 2 * m[axis] <= o[axis]:
            raise ValueError(f"expected 0 <= 2 * margin <= overlap, got margin {m[axis]}, overlap {o[axis]}")
    return t, o, m


# ----------------------------------------------------------------------------------------------
# Tiled prediction
# ----------------------------------------------------------------------------------------------


@torch.no_grad()
def tiled_predict(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int | tuple[int, int],
    overlap: int | tuple[int, int],
    chunk: int = 16,
    margin: int | tuple[int, int] | None = None,
    align: int = 1,
) -> torch.Tensor:
    """Apply ``fn`` ((b, C, th, tw) -> (b, C', th, tw)) to x (B, C, H, W) tile by tile -> (B, C', H, W).

    ``tile``, ``overlap`` and ``margin`` are pixels, an int or (height, width);
    ``chunk`` is how many tiles (over the whole batch) go through ``fn`` at once,
    which bounds the memory of the model's activations. The output is accumulated
    in float32 and returned in fn's dtype.

    ``align``: tiles start at multiples of it (but the last), for models whose output
    is tied to a grid, e.g. the patch interpolator's ``tgt_field`` blocks: with
    ``align = margin = tgt_field`` (one pixel more margin with its conv head), tiles
    of a multiple of the block and frame sides that are too, it matches its untiled
    output; elsewhere the off-grid last tile blends in smoothly.
    """
    if chunk <= 0:
        raise ValueError(f"expected chunk > 0, got {chunk}")
    (th, tw), (oh, ow), (mh, mw) = _pairs(tile, overlap, margin)
    b, _, height, width = x.shape
    (th, rows), (tw, cols) = axis_windows(height, th, oh, mh, align), axis_windows(width, tw, ow, mw, align)
    grid = [
        (y, xx, (wy[:, None] * wx[None, :]).to(x.device, torch.float32)) for y, wy in rows for xx, wx in cols
    ]
    tiles = [(i, y, xx, w) for i in range(b) for y, xx, w in grid]  # w: (th, tw) blend weights

    total = torch.zeros(height, width, dtype=torch.float32, device=x.device)  # (H, W) summed weights
    for y, xx, w in grid:
        total[y : y + th, xx : xx + tw] += w
    out: torch.Tensor | None = None
    out_dtype = x.dtype
    for first in range(0, len(tiles), chunk):
        batch = tiles[first : first + chunk]
        crops = torch.stack([x[i, :, y : y + th, xx : xx + tw] for i, y, xx, _ in batch])  # (n, C, th, tw)
        pred = fn(crops)  # (n, C', th, tw)
        if pred.shape[0] != len(batch) or pred.shape[-2:] != (th, tw):
            raise ValueError(
                f"fn must map (n, C, {th}, {tw}) to (n, C', {th}, {tw}), got {tuple(pred.shape)}"
            )
        if out is None:
            out = torch.zeros(b, pred.shape[1], height, width, dtype=torch.float32, device=x.device)
            out_dtype = pred.dtype
        for k, (i, y, xx, w) in enumerate(batch):
            out[i, :, y : y + th, xx : xx + tw] += pred[k].float() * w  # (C', th, tw)
    assert out is not None
    return (out / total).to(out_dtype)  # (B, C', H, W)
