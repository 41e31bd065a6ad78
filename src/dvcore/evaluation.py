"""Evaluation outside training: set-level scores of sample folders, reference statistics.

Metrics come from the registry (``metric`` kind) like everything else, so a
third-party metric plugs in; set-level metrics follow the contract of the metrics
plugin: ``update(generated, real_or_None)``, ``compute()``, ``save_reference(path)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from dvcore import recipe as recipes
from dvcore.recipe import MetricSection, RecipeError
from dvcore.registry import Registry

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def count_images(source: Path) -> int:
    if source.suffix == ".npz":
        with np.load(source, allow_pickle=False) as data:
            return len(data["arr_0"])
    return len(image_files(source))


def image_batches(source: Path, batch_size: int) -> Iterator[torch.Tensor]:
    """Batches (B, C, H, W) in [0, 1] from a folder of images or an .npz (uint8 N,H,W,C under arr_0)."""
    if source.suffix == ".npz":
        with np.load(source, allow_pickle=False) as data:
            array = data["arr_0"]
        for start in range(0, len(array), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(array[start : start + batch_size]))
            yield chunk.permute(0, 3, 1, 2).float() / 255.0
        return
    files = image_files(source)
    for start in range(0, len(files), batch_size):
        arrays = []
        for path in files[start : start + batch_size]:
            with Image.open(path) as im:
                array = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
            arrays.append(array[..., None] if array.ndim == 2 else array)
        yield torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0


def check_source(path: Path, what: str) -> list[str]:
    if not path.exists():
        return [f"{what}: path does not exist: {str(path)!r}"]
    if path.is_dir() and not image_files(path):
        return [f"{what}: no images (png, jpg, ...) in {str(path)!r}"]
    if path.is_file() and path.suffix != ".npz":
        return [f"{what}: expected a folder of images or an .npz, got {str(path)!r}"]
    return []


def build_metrics(names: list[str], options: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """Metrics by name, each section validated like a recipe's ``eval.metrics`` entry."""
    metrics, problems = {}, []
    for i, name in enumerate(names):
        try:
            section = recipes.structure({"name": name, **options}, registry, MetricSection)
        except RecipeError as exc:
            problems += [f"--metric {name} ({i}): {p.removeprefix('(recipe): ')}" for p in exc.problems]
            continue
        metrics[name] = registry.get("metric", name).build(section.options)
    if problems:
        raise RecipeError(problems)
    return metrics


def score_sets(samples: Path, reference: Path, metrics: dict[str, Any], batch_size: int) -> dict[str, float]:
    """Scores between generated ``samples`` and ``reference`` (a folder/npz of images, or a stats .npz)."""
    for batch in image_batches(samples, batch_size):
        for metric in metrics.values():
            metric.update(batch, None)
    reference_is_stats = reference.suffix == ".npz" and is_stats_file(reference)
    if not reference_is_stats:
        for batch in image_batches(reference, batch_size):
            for metric in metrics.values():
                if getattr(metric, "uses_reference", True):
                    metric.update(None, batch)
    return {name: metric.compute() for name, metric in metrics.items()}


def is_stats_file(path: Path) -> bool:
    with np.load(path, allow_pickle=False) as data:
        return "arr_0" not in data.files
