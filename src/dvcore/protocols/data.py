"""Contracts of what feeds and scores a run: datasets and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    pass

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Dataset(Protocol):
    """A map-style dataset of samples (the data pipeline wraps it in torchdata.nodes).

    ``dataset[i]`` for ``0 <= i < len(dataset)`` is a dict of float32 tensors in [0, 1]:
    ``"frames"`` [N, C, H, W] for clips (interpolation: N odd, the middle frame is the
    target), ``"image"`` [C, H, W] for single images (generation). Every sample of a
    dataset has the same shape. ``dataset[i]`` is a pure function of (options, split,
    seed, i, epoch), which makes resuming exact.

    Optional: ``set_epoch(epoch)`` (called at each epoch start, for augmentations drawn
    per epoch), ``num_corrupt`` (files skipped as unreadable; reported in summary.json).
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Tensor]: ...


class DatasetFactory(Protocol):
    """``factory(options, *, split, seed) -> Dataset``.

    ``split`` is ``"train"`` or ``"eval"``; the two must not share samples. ``seed`` is the
    recipe's seed (for generated data, or a random split).
    """

    def __call__(self, options: Any, *, split: str, seed: int) -> Dataset: ...


# ----------------------------------------------------------------------------------------------
# metric
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Metric(Protocol):
    """Accumulates a score over batches; ``compute()`` gives the score so far.

    ``update(pred, target)``: two float batches [B, C, H, W] in [0, 1]. A per-sample metric
    (PSNR, SSIM; subclass ``dvcore.api.MeanMetric`` and write ``per_sample``) returns the
    value of each sample [B]; a set-level metric (FID, KID) returns None, and is called
    with ``pred`` or ``target`` None when only one side is at hand (then set
    ``uses_reference``). ``reset()`` forgets everything seen. ``compute()`` returns a float
    (nan before any update).

    ``name`` is the key in scores: a task reports ``"<predictor>/<name>"`` (``model/psnr``,
    ``blend/psnr``) in summary.json's ``eval`` and in the tracker; ``higher_is_better``
    tells tables which way is better.
    """

    name: str
    higher_is_better: bool

    def reset(self) -> None: ...

    def update(self, pred: Tensor, target: Tensor) -> Tensor | None: ...

    def compute(self) -> float: ...


class MetricFactory(Protocol):
    """``factory(options) -> Metric``; recipes name metrics in ``[eval] metrics = ["psnr", ...]``."""

    def __call__(self, options: Any) -> Metric: ...
