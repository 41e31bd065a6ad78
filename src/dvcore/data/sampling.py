"""Index samplers whose order is a pure function of (seed, epoch, rank).

That is what makes the loader position resumable exactly: torchdata's
``SamplerWrapper`` restores the epoch, calls ``set_epoch`` and fast-forwards the
number of indices already yielded, which reproduces the stream only if the order
does not depend on hidden generator state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


class EpochShuffleSampler:
    """A permutation of range(n) per epoch, sharded across ranks.

    Every rank yields the same number of indices (the tail that does not divide
    evenly is dropped when shuffling, so each sample is seen at most once per epoch).
    """

    def __init__(self, n: int, *, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        if n < world_size:
            raise ValueError(f"dataset of {n} samples cannot be sharded over {world_size} ranks")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.on_epoch: Callable[[int], None] | None = None  # e.g. the dataset's set_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.on_epoch is not None:
            self.on_epoch(epoch)

    def __len__(self) -> int:
        return self.n // self.world_size if self.shuffle else len(range(self.rank, self.n, self.world_size))

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)[: len(self) * self.world_size]
        else:
            order = torch.arange(self.n)
        return iter(order[self.rank :: self.world_size].tolist())
