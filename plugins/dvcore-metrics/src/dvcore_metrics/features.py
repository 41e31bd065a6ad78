"""Feature extractors: the networks whose features FID, KID and the Inception Score compare.

A feature extractor is a module with a ``name`` (recorded in reference files, so statistics of
different networks are never compared), a feature width ``dim``, a number of classes
``num_classes`` (0 when it has no classifier), and ``__call__(images) -> Features`` taking
images (B, 3, H, W) in [0, 1] on its device. Two exist:

- ``inception`` (``dvcore_metrics.inception.InceptionFeatures``): the FID Inception-v3, the one
  every published FID uses; it needs its weights file.
- ``random_conv`` (``RandomConvFeatures``): a small convolutional net with fixed random weights
  (seed 0) and global average pooling. It needs no file and runs in milliseconds, so tests
  and smoke runs exercise the whole FID/KID/IS path; its numbers mean nothing outside that.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn


class Features(NamedTuple):
    """What an extractor returns for a batch: pooled features and, when it has a classifier, logits."""

    pool: torch.Tensor  # (B, dim)
    logits: torch.Tensor | None  # (B, num_classes), None without a classifier


class FeatureExtractor(Protocol):
    """The contract every feature network meets."""

    name: str
    dim: int
    num_classes: int

    def __call__(self, images: torch.Tensor) -> Features:
        """(B, 3, H, W) in [0, 1], on the extractor's device -> Features."""
        ...


# ---------------------------------------------------------------------------------------------
#                                   Stand-in for tests and smoke runs
# ---------------------------------------------------------------------------------------------


class RandomConvFeatures(nn.Module):
    """Three strided 3x3 conv + ReLU layers with seeded random weights, global average pool, linear head.

    For tests and smoke runs only: deterministic for a given seed and torch version, sensitive
    to colour, brightness and texture, but its scores are not comparable to published FIDs.
    Images of any size of at least 8x8 are accepted; features depend on the resolution.
    """

    name = "random_conv"
    widths = (3, 16, 32, 64)
    dim = widths[-1]
    num_classes = 10

    def __init__(self, seed: int = 0):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            for cin, cout in zip(self.widths[:-1], self.widths[1:], strict=True)
        )
        self.head = nn.Linear(self.dim, self.num_classes)
        self.initialize_weights(seed)

    @torch.no_grad()
    def initialize_weights(self, seed: int) -> None:
        """He-normal weights and small random biases from one seeded generator: the same net every time."""
        gen = torch.Generator().manual_seed(seed)
        for layer in [*self.convs, self.head]:
            fan_in = layer.weight[0].numel()
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            layer.bias.copy_(0.1 * torch.randn(layer.bias.shape, generator=gen))

    def forward(self, images: torch.Tensor) -> Features:
        x = 2.0 * images - 1.0  # (B, 3, H, W) in [-1, 1]
        for conv in self.convs:
            x = F.relu(conv(x))  # (B, C, H / 2, W / 2)
        pool = x.mean(dim=(2, 3))  # (B, 64)
        return Features(pool, self.head(pool))  # (B, 64), (B, 10)
