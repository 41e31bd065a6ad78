"""Scoring a generation run: images sampled from its model against reference images (``dvcore eval gen RUN``).

Scores come from ``dvcore.evaluation.score_batches``, the path ``eval gen FOLDER`` takes too.
The generated images are exactly those ``dvcore sample RUN --seed S`` writes (image i comes from
the generator of (S, i) alone, whatever the batch), so ``eval gen RUN`` scores what ``dvcore
sample`` followed by ``dvcore eval gen FOLDER`` would, without writing the files. The reference is
the eval split of the run's data, or of other data (``--data`` / ``--set data.…``: the run is then
loaded with only that split built), or a folder / npz / statistics file (``--ref``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from dvcore.errors import RecipeError
from dvcore.seeding import image_generator

Tensor = torch.Tensor


def generated_batches(
    task: Any,
    model: torch.nn.Module,
    num: int,
    *,
    batch_size: int,
    seed: int,
    sampler: Any = None,
    num_steps: int | None = None,
) -> Iterator[Tensor]:
    """``num`` images from the task's ``sample`` (``SamplesImages``), ``batch_size`` at a time: (b, C, H, W)
    in [0, 1]; image i from the generator of (``seed``, i), as ``dvcore sample`` draws it."""
    for start in range(0, num, batch_size):
        indices = range(start, min(start + batch_size, num))
        generators = [image_generator(seed, i) for i in indices]
        yield task.sample(
            model, len(indices), generator=generators, sampler=sampler, num_steps=num_steps
        ).images


def eval_split_images(dataset: Any, max_samples: int | None, batch_size: int) -> Iterator[Tensor]:
    """The images of an eval split (its first ``max_samples``), ``batch_size`` at a time: (b, C, H, W)."""
    from dvcore.evaluation import eval_batches

    for samples in eval_batches(dataset, max_samples, batch_size):
        if "image" not in samples[0]:
            raise RecipeError(["data: its eval split gives no images ('image') to compare samples with"])
        yield torch.stack([s["image"] for s in samples])
