"""Registers the ``dit`` backbone with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl, raise_problems
from dvcore_dit.model import DiT
from dvcore_dit.options import DitOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


def build_dit(options: DitOptions, *, in_channels: int, out_channels: int) -> DiT:
    """DiT (Peebles & Xie 2023), unconditional; any H, W divisible by the patch."""
    raise_problems("dit", options.problems())
    depth, hidden_size, num_heads = options.dims
    return DiT(
        in_channels,
        out_channels,
        patch=options.patch,
        hidden_size=hidden_size,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=options.mlp_ratio,
        learn_sigma=options.learn_sigma,
        dropout=options.dropout,
        attn_dropout=options.attn_dropout,
        grad_checkpointing=options.grad_checkpointing,
    )


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("backbone", "dit", build_dit, DitOptions)
