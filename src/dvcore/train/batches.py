"""Batches on their way to the step: the first n samples of a split, tensors moved to the device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class Head(Sequence[Any]):
    """The first ``n`` samples of a dataset."""

    def __init__(self, dataset: Sequence[Any], n: int | None):
        self.dataset, self.n = dataset, len(dataset) if n is None else min(n, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]  # map-style: int indices only
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.dataset[i]


def to_device(batch: dict[str, Any], device: torch.device, channels_last: bool = False) -> dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device, non_blocking=True)
            if channels_last and v.ndim == 4:
                v = v.contiguous(memory_format=torch.channels_last)
        out[k] = v
    return out
