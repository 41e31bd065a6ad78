"""Options of the ``unetpp`` backbone (UNet++, Zhou et al. 2018, adapted to diffusion).

The network is a grid of nodes X^{i,j}: row i works at H/2^i with ``channels[i]`` widths,
column j counts how many nested skip stages precede it; nodes with i + j <= depth exist,
(depth + 1)(depth + 2)/2 of them. ``channels`` and ``attn`` have one entry per row
(depth + 1). H and W must be multiples of 2^depth.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from dvcore.api import ResStackOptions, each, ge, gt, opt


@attrs.frozen(kw_only=True)
class UNetPPOptions(ResStackOptions):
    """UNet++ for diffusion: nested dense skips, every node a time-conditioned res block.

    Time embedding, norm groups, attention heads, dropout and checkpointing: ``ResStackOptions``.
    """

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
            message = self.groups_problem(c)
            if message:
                yield f"channels[{i}]", message
        for i, (on, c) in enumerate(zip(self.attn, self.channels, strict=False)):
            message = self.heads_problem(c) if on and c > 0 else None
            if message:
                yield f"attn[{i}]", f"{message} (channels[{i}])"
