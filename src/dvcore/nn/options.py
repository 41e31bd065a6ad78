"""Options shared by conv backbones built from ``ResStack``: one declaration for the UNet family.

A backbone's options class subclasses ``ResStackOptions`` (attrs, ``kw_only``) and adds its own
layout fields; ``res_stack`` builds a stack from these options, ``groups_problem`` and
``heads_problem`` check a width against them for the class's ``problems()``.
"""

from __future__ import annotations

from typing import Literal

import attrs

from dvcore.nn.blocks import ResStack
from dvcore.options import ge, gt, lt, opt


@attrs.frozen(kw_only=True)
class ResStackOptions:
    """Time embedding, normalisation, attention and dropout of every res block and attention block."""

    time_embed_dim: int | None = opt(None, "width of the time embedding; unset = 4 x the first width", gt(0))
    norm_groups: int = opt(32, "GroupNorm groups; every width must be a multiple", gt(0))
    attn_heads: int = opt(4, "attention heads (unless attn_head_dim is set)", gt(0))
    attn_head_dim: int | None = opt(
        None, "channels per attention head; when set, overrides attn_heads", gt(0)
    )
    attn_dropout: float = opt(0.0, "dropout on the attention weights (lab notes §G2)", ge(0), lt(1))
    res_dropout: float = opt(0.0, "dropout inside each res block, before its second conv", ge(0), lt(1))
    res_dropout_mode: Literal["element", "channel"] = opt(
        "element",
        "element = per-pixel nn.Dropout (lab notes §G9); channel = nn.Dropout2d, which ruined results "
        "(lab notes §G3), kept for the ablation",
    )
    grad_checkpointing: bool = opt(False, "recompute each block's activations in backward to save memory")

    def res_stack(self, in_channels: int, out_channels: int, *, num_blocks: int, attention: bool) -> ResStack:
        """``num_blocks`` res blocks (in -> out) at one resolution, each followed by attention when on.

        ``time_embed_dim`` must be resolved (not None) by then.
        """
        if self.time_embed_dim is None:
            raise ValueError("resolve time_embed_dim before building res stacks")
        return ResStack(
            in_channels,
            out_channels,
            self.time_embed_dim,
            num_blocks=num_blocks,
            attention=attention,
            num_heads=self.attn_heads,
            head_dim=self.attn_head_dim,
            attn_dropout=self.attn_dropout,
            res_dropout=self.res_dropout,
            dropout_mode=self.res_dropout_mode,
            groups=self.norm_groups,
            grad_checkpointing=self.grad_checkpointing,
        )

    def groups_problem(self, width: int) -> str | None:
        """Why ``width`` does not fit GroupNorm's groups (None when it does)."""
        if width > 0 and self.norm_groups > 0 and width % self.norm_groups:
            return f"expected a multiple of norm_groups = {self.norm_groups}, got {width}"
        return None

    def heads_problem(self, width: int) -> str | None:
        """Why attention over ``width`` channels cannot split into the heads asked for (None if it can)."""
        if self.attn_head_dim is not None:
            if self.attn_head_dim > 0 and width % self.attn_head_dim:
                return f"expected a width divisible by attn_head_dim = {self.attn_head_dim}, got {width}"
        elif self.attn_heads > 0 and width % self.attn_heads:
            return f"expected a width divisible by attn_heads = {self.attn_heads}, got {width}"
        return None
