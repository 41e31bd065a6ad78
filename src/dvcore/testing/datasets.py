"""The dataset contract: ``factory(options, *, split, seed)`` -> a map-style dataset of samples."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import default_collate

from dvcore import protocols
from dvcore.testing.report import Report, expect, start

Tensor = torch.Tensor


def check_dataset(
    factory: Callable[..., Any],
    options: Any = None,
    *,
    seed: int = 0,
    splits: tuple[str, ...] = ("train", "eval"),
) -> None:
    """The dataset contract: ``factory(options, *, split, seed)`` -> a map-style dataset of samples.

    Checks, per split: ``len`` > 0; the first, middle and last sample are dicts with
    ``frames`` [N, C, H, W] or ``image`` [C, H, W], float32 in [0, 1], of one shape that
    collates; the same seed gives the same samples; ``set_epoch`` (when present) keeps
    samples a function of the epoch; ``num_corrupt`` (when present) is an int.
    """
    report, opts = start("dataset", factory, options)
    for split in splits:
        dataset = None
        with report.check(f"{split}: builds"):
            dataset = factory(opts, split=split, seed=seed)
            expect(isinstance(dataset, protocols.Dataset), "expected __len__ and __getitem__")
            expect(len(dataset) > 0, "no samples")
        if dataset is None or not len(dataset):
            continue
        indices = sorted({0, len(dataset) // 2, len(dataset) - 1})
        with report.check(f"{split}: samples are frames [N, C, H, W] or image [C, H, W] in [0, 1]"):
            _expect_samples(dataset, indices)
        rebuild = functools.partial(factory, opts, split=split, seed=seed)
        _check_reproducible(report, split, dataset, rebuild, indices)
    report.finish()


def _expect_samples(dataset: Any, indices: list[int]) -> None:
    samples = [dataset[i] for i in indices]
    for i, sample in zip(indices, samples, strict=True):
        expect(isinstance(sample, dict), f"sample {i} is a {type(sample).__name__}, expected a dict")
        key = "frames" if "frames" in sample else "image"
        expect(key in sample, f"sample {i} has neither 'frames' nor 'image' (keys {list(sample)})")
        value = sample[key]
        expect(
            value.dim() == (4 if key == "frames" else 3), f"sample {i}: {key} of shape {tuple(value.shape)}"
        )
        expect(value.dtype == torch.float32, f"sample {i}: {key} is {value.dtype}, expected float32")
        expect(
            float(value.min()) >= 0 and float(value.max()) <= 1,
            f"sample {i}: {key} in [{float(value.min()):.3g}, {float(value.max()):.3g}], expected [0, 1]",
        )
    default_collate(samples)  # one shape per key, or the loader fails


def _same_tensors(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], Tensor))


def _check_reproducible(
    report: Report, split: str, dataset: Any, rebuild: Callable[[], Any], indices: list[int]
) -> None:
    with report.check(f"{split}: the same seed gives the same samples"):
        again = rebuild()
        expect(len(again) == len(dataset), "another length")
        for i in indices:
            expect(_same_tensors(dataset[i], again[i]), f"sample {i} differs")
    if hasattr(dataset, "set_epoch"):
        with report.check(f"{split}: samples are a function of the epoch"):
            dataset.set_epoch(1)
            first = dataset[0]
            again = rebuild()
            again.set_epoch(1)
            expect(_same_tensors(first, again[0]), "differs")
    if hasattr(dataset, "num_corrupt"):
        with report.check(f"{split}: num_corrupt is an int"):
            expect(isinstance(dataset.num_corrupt, int), f"got {type(dataset.num_corrupt).__name__}")
