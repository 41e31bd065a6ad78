"""Neural-network building blocks shared by backbone plugins (plugins depend on the core only).

The public names: timestep and sin-cos position embeddings, transformer blocks (SDPA attention,
MLP, pre-norm block) and the convolutional UNet blocks (time-conditioned residual block, pixel
attention, resampling, ``zero_residual_branches``) with ``ResStackOptions``, the option fields
they share.
"""

from dvcore.nn.blocks import (
    AttentionBlock,
    Downsample,
    ResBlock,
    ResStack,
    Upsample,
    check_halvable,
    dropout,
    group_norm,
    zero_residual_branches,
)
from dvcore.nn.embeddings import TimestepEmbedder, sincos_1d, sincos_2d, timestep_embedding
from dvcore.nn.options import ResStackOptions
from dvcore.nn.transformer import Attention, Mlp, TransformerBlock, TransformerDims

__all__ = [
    "Attention",
    "AttentionBlock",
    "Downsample",
    "Mlp",
    "ResBlock",
    "ResStack",
    "ResStackOptions",
    "TimestepEmbedder",
    "TransformerBlock",
    "TransformerDims",
    "Upsample",
    "check_halvable",
    "dropout",
    "group_norm",
    "sincos_1d",
    "sincos_2d",
    "timestep_embedding",
    "zero_residual_branches",
]
