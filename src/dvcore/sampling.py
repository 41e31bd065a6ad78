"""Sampling at scale: `dvcore sample RUN_DIR --num 50000 ...`.

Image i is a pure function of (seed, i): its initial noise and every step's noise
come from its own generator, so it is the same whatever the batch size or the
number of processes. Images already written are skipped, so an interrupted job
resumes without gaps or duplicates; each file is written to a temporary name and
renamed, so a crash never leaves a half-written PNG. Under torchrun each rank
takes the indices i with i % world_size == rank.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dvcore.seeding import image_generator
from dvcore.train.distributed import DistInfo


def image_path(out: Path, index: int) -> Path:
    return out / f"{index:06d}.png"


def pending_indices(out: Path, num: int, dist: DistInfo) -> list[int]:
    """This rank's indices whose PNG does not exist yet."""
    return [i for i in range(dist.rank, num, dist.world_size) if not image_path(out, i).exists()]


def batches(indices: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


def save_png(image: torch.Tensor, path: Path) -> None:
    """(C, H, W) in [0, 1] -> 8-bit PNG, written atomically."""
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    mode_array = array[..., 0] if array.shape[-1] == 1 else array
    tmp = path.with_suffix(".png.tmp")
    Image.fromarray(mode_array).save(tmp, format="PNG")
    os.replace(tmp, path)


def sample_to_folder(
    task: Any,
    model: torch.nn.Module,
    out: Path,
    *,
    num: int,
    batch_size: int,
    seed: int,
    dist: DistInfo,
    sampler: Any = None,
    num_steps: int | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Write this rank's missing images; returns {"written": n, "seconds": s, "images_per_s": r}."""
    out.mkdir(parents=True, exist_ok=True)
    todo = pending_indices(out, num, dist)
    started = time.perf_counter()
    bar = Progress(
        TextColumn("[bold]sample"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        disable=not (progress and dist.is_main),
    )
    with bar:
        job = bar.add_task("sample", total=len(todo), rate="")
        done = 0
        for chunk in batches(todo, batch_size):
            generators = [image_generator(seed, i) for i in chunk]
            result = task.sample(
                model, len(chunk), generator=generators, sampler=sampler, num_steps=num_steps
            )
            for i, image in zip(chunk, result.images, strict=True):
                save_png(image, image_path(out, i))
            done += len(chunk)
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(job, advance=len(chunk), rate=f"{rate:.1f} images/s")
    seconds = time.perf_counter() - started
    return {"written": done, "seconds": seconds, "images_per_s": done / max(seconds, 1e-9)}


def write_npz(out: Path, num: int, path: Path) -> None:
    """All ``num`` PNGs as one uint8 array (N, H, W, C) under key ``arr_0`` (guided-diffusion's layout)."""
    arrays = []
    for i in range(num):
        array = np.asarray(Image.open(image_path(out, i)))
        arrays.append(array[..., None] if array.ndim == 2 else array)
    np.savez(path, arr_0=np.stack(arrays))
