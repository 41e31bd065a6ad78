"""Neural-network building blocks shared by backbone plugins (plugins depend on the core only).

The public names: timestep and sin-cos position embeddings, transformer blocks (SDPA attention,
MLP, pre-norm block) and the convolutional UNet blocks (time-conditioned residual block, pixel
attention, resampling).
"""

from dvcore.nn.blocks import AttentionBlock, Downsample, ResBlock, ResStack, Upsample, dropout, group_norm
from dvcore.nn.embeddings import TimestepEmbedder, sincos_1d, sincos_2d, timestep_embedding
from dvcore.nn.transformer import Attention, Mlp, TransformerBlock, TransformerDims

__all__ = [
    "Attention",
    "AttentionBlock",
    "Downsample",
    "Mlp",
    "ResBlock",
    "ResStack",
    "TimestepEmbedder",
    "TransformerBlock",
    "TransformerDims",
    "Upsample",
    "dropout",
    "group_norm",
    "sincos_1d",
    "sincos_2d",
    "timestep_embedding",
]
