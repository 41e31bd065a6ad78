"""Data pipelines through torchdata.nodes: sampler -> parallel map -> batch -> prefetch -> Loader."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate
from torchdata.nodes import Batcher, Loader, Mapper, ParallelMapper, Prefetcher, SamplerWrapper

from dvcore.data.sampling import EpochShuffleSampler


class SingleThreadedOps:
    """Wraps a dataset's ``__getitem__`` so that it runs torch ops on one intra-op thread.

    Worker and prefetch threads each get their own OpenMP team when torch ops run in
    them; on small tensors (one clip) that oversubscribes the cores and made sample
    generation ~10x slower than single-threaded. ``torch.set_num_threads`` is
    per-thread under OpenMP, so setting it inside a worker leaves the training
    thread's setting alone. The main thread is never touched.
    """

    def __init__(self, fn: Any):
        self.fn = fn
        self._configured = threading.local()

    def __call__(self, index: int) -> Any:
        if not getattr(self._configured, "done", False):
            if threading.current_thread() is not threading.main_thread():
                torch.set_num_threads(1)
            self._configured.done = True
        return self.fn(index)


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
    if hasattr(dataset, "set_epoch"):
        # Augmentations are seeded by (seed, split, epoch, index): tell the dataset each new epoch
        # (torchdata calls the sampler's set_epoch at every epoch start and on resume).
        sampler.on_epoch = dataset.set_epoch
    node: Any = SamplerWrapper(sampler)
    load = SingleThreadedOps(dataset.__getitem__)
    if num_workers > 0:
        node = ParallelMapper(node, map_fn=load, num_workers=num_workers, method="thread")
    else:
        node = Mapper(node, load)
    node = Batcher(node, batch_size=batch_size, drop_last=drop_last)
    node = Mapper(node, default_collate)
    if pin_memory and torch.cuda.is_available():
        from torchdata.nodes import PinMemory

        node = PinMemory(node)
    if prefetch > 0:
        node = Prefetcher(node, prefetch_factor=prefetch)
    # restart_on_stop_iteration=True peeks one batch ahead after a restore and counts it twice
    # (num_yielded grew by one per resume); a restored position at the very end of an epoch
    # instead gives one empty pass, and the caller's next pass starts the next epoch.
    return Loader(node, restart_on_stop_iteration=False)
