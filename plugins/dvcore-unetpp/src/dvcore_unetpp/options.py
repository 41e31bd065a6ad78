"""Options of the ``unetpp`` backbone (UNet++, Zhou et al. 2018, adapted to diffusion).

The network is a grid of nodes X^{i,j}: row i works at H/2^i with ``channels[i]`` widths,
column j counts how many nested skip stages precede it; nodes with i + j <= depth exist,
(depth + 1)(depth + 2)/2 of them. ``channels`` and ``attn`` have one entry per row
(depth + 1). H and W must be multiples of 2^depth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import attrs

from dvcore.api import each, ge, gt, lt, opt


@attrs.frozen
class UNetPPOptions:
    """UNet++ for diffusion: nested dense skips, every node a time-conditioned res block."""

    depth: int = opt(4, "downsamplings L; the grid holds the nodes X^{i,j} with i + j <= L", ge(1))
    channels: list[int] = opt(
        attrs.NOTHING,
        "width of each row i = 0..depth (the paper's 32, 64, 128, 256, 512)",
        each(gt(0)),
        factory=lambda: [32, 64, 128, 256, 512],
    )
    attn: list[bool] = opt(
        attrs.NOTHING,
        "attention in the nodes of each row i = 0..depth (default: rows 3 and 4, 32x32 and 16x16 at 256x256)",
        factory=lambda: [False, False, False, True, True],
    )
    num_res_blocks: int = opt(1, "res blocks per node", ge(1))
    deep_supervision: bool = opt(
        False,
        "output the mean of 1x1 heads on the top-row nodes X^{0,1..depth} (the paper's deep "
        "supervision; meant for regression) instead of one head on X^{0,depth}",
    )
    time_embed_dim: int | None = opt(None, "width of the time embedding; unset = 4 x channels[0]", gt(0))
    norm_groups: int = opt(32, "GroupNorm groups; every width must be a multiple", gt(0))
    attn_heads: int = opt(4, "attention heads (unless attn_head_dim is set)", gt(0))
    attn_head_dim: int | None = opt(
        None, "channels per attention head; when set, overrides attn_heads", gt(0)
    )
    attn_dropout: float = opt(0.0, "dropout on the attention weights", ge(0), lt(1))
    res_dropout: float = opt(0.0, "dropout inside each res block, before its second conv", ge(0), lt(1))
    res_dropout_mode: Literal["element", "channel"] = opt(
        "element",
        "element = per-pixel nn.Dropout; channel = nn.Dropout2d, which ruined the UNet of the lab "
        "lab notes (docs/lab_notes.md §G3), kept for the ablation",
    )
    grad_checkpointing: bool = opt(False, "recompute each block's activations in backward to save memory")

    @property
    def num_nodes(self) -> int:
        """Nodes X^{i,j} with i, j >= 0 and i + j <= depth."""
        return (self.depth + 1) * (self.depth + 2) // 2

    def problems(self) -> Iterator[tuple[str, str]]:
        """Rows that do not match the depth, widths that do not fit the norm groups or the heads."""
        rows = self.depth + 1
        for name in ("channels", "attn"):
            if len(getattr(self, name)) != rows:
                yield (
                    name,
                    f"expected depth + 1 = {rows} entries (one per row), got {len(getattr(self, name))}",
                )
        for i, c in enumerate(self.channels):
            if c > 0 and self.norm_groups > 0 and c % self.norm_groups:
                yield f"channels[{i}]", f"expected a multiple of norm_groups = {self.norm_groups}, got {c}"
        for i, (on, c) in enumerate(zip(self.attn, self.channels, strict=False)):
            if not on or c <= 0:
                continue
            if self.attn_head_dim is not None:
                if self.attn_head_dim > 0 and c % self.attn_head_dim:
                    yield (
                        f"attn[{i}]",
                        f"expected a width divisible by attn_head_dim = {self.attn_head_dim}, "
                        f"got {c} (channels[{i}])",
                    )
            elif self.attn_heads > 0 and c % self.attn_heads:
                yield (
                    f"attn[{i}]",
                    f"expected a width divisible by attn_heads = {self.attn_heads}, got {c} (channels[{i}])",
                )
