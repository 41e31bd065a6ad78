"""Data pipelines through torchdata.nodes: sampler -> parallel map -> batch -> prefetch -> Loader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate
from torchdata.nodes import Batcher, Loader, Mapper, ParallelMapper, Prefetcher, SamplerWrapper

from dvcore.data.sampling import EpochShuffleSampler


def build_loader(
    dataset: Sequence[dict[str, Any]],
    *,
    batch_size: int,
    seed: int,
    shuffle: bool,
    drop_last: bool,
    num_workers: int = 0,
    prefetch: int = 2,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> Loader:
    """A resumable loader over a map-style dataset.

    Iterating the loader gives one epoch; iterating again starts the next (the
    sampler's epoch advances). ``loader.state_dict()`` captures the position
    inside the current epoch and goes into checkpoints.
    """
    sampler = EpochShuffleSampler(len(dataset), seed=seed, shuffle=shuffle, rank=rank, world_size=world_size)
    node: Any = SamplerWrapper(sampler)
    if num_workers > 0:
        node = ParallelMapper(node, map_fn=dataset.__getitem__, num_workers=num_workers, method="thread")
    else:
        node = Mapper(node, dataset.__getitem__)
    node = Batcher(node, batch_size=batch_size, drop_last=drop_last)
    node = Mapper(node, default_collate)
    if pin_memory and torch.cuda.is_available():
        from torchdata.nodes import PinMemory

        node = PinMemory(node)
    if prefetch > 0:
        node = Prefetcher(node, prefetch_factor=prefetch)
    return Loader(node, restart_on_stop_iteration=True)
