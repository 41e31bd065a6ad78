"""Evaluation outside training: set-level scores of sample folders, reference statistics.

Metrics come from the registry (``metric`` kind) like everything else, so a
third-party metric plugs in; set-level metrics follow the contract of the metrics
plugin: ``update(generated, real_or_None)``, ``compute()``, ``save_reference(path)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from dvcore import recipe as recipes
from dvcore.errors import RecipeError
from dvcore.recipe import MetricSection
from dvcore.registry import Registry

if TYPE_CHECKING:
    from dvcore.diffusion.task_parts import HeldOutLoss

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
    reference_is_stats = reference.suffix == ".npz" and is_stats_file(reference)
    real = [] if reference_is_stats else image_batches(reference, batch_size)
    return score_batches(metrics, image_batches(samples, batch_size), real)


def score_batches(
    metrics: dict[str, Any], generated: Iterable[torch.Tensor], reference: Iterable[torch.Tensor]
) -> dict[str, float]:
    """Set-level scores: each generated batch as ``update(batch, None)``, then each reference batch as
    ``update(None, batch)`` for the metrics that have a real side not read from a statistics file."""
    for batch in generated:
        for metric in metrics.values():
            metric.update(batch, None)
    for batch in reference:
        for metric in metrics.values():
            if getattr(metric, "uses_reference", True) and getattr(metric, "reference", None) is None:
                metric.update(None, batch)
    return {name: float(metric.compute()) for name, metric in metrics.items()}


def is_stats_file(path: Path) -> bool:
    with np.load(path, allow_pickle=False) as data:
        return "arr_0" not in data.files


# ----------------------------------------------------------------------------------------------
# Interpolation runs: per-clip scores of the model and the baselines
# ----------------------------------------------------------------------------------------------


def score_clips(
    task: Any,
    model: Any,
    metrics: dict[str, Any],
    *,
    samples_per_clip: int,
    max_samples: int | None,
    batch_size: int,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per (clip, predictor): each metric's mean over the samples drawn for the clip, and its std.

    ``InterpolateTask.evaluate_run``, scored by ``dvcore.tasks.interp_scoring`` exactly as the
    training-time evaluation scores (same samples, ddof 1 spread). Regression models give one
    prediction per clip; diffusion models give ``samples_per_clip`` samples, scored one by one and
    averaged (never the best of N). The predictors are the model and the task's baselines
    (``eval.baselines``). Every row carries the clip's ``motion``: the mean optical-flow magnitude
    (px) between the two frames around the target, from the flow baseline (the task's, or one with
    default options when the recipe scores none).
    """
    from dvcore.baselines.components import FlowBaseline
    from dvcore.baselines.flow import FlowOptions
    from dvcore.tasks.interp_scoring import InterpolationScores
    from dvcore.tasks.interpolate import split_clip

    scoring = InterpolationScores(
        list(metrics),
        metrics.__getitem__,
        task.baselines,
        samples=samples_per_clip if task.diffusion is not None else 1,
        seed=seed,
    )
    flows = [b for b in task.baselines.values() if isinstance(b, FlowBaseline)]
    flow = flows[0] if flows else FlowBaseline(FlowOptions())
    flow_names = [name for name, fn in task.baselines.items() if fn is flow]
    device = next(model.parameters()).device
    for samples in eval_batches(task.datasets()["eval"], max_samples, batch_size):
        frames = torch.stack([s["frames"] for s in samples]).to(device)  # (B, N, C, H, W)
        context, target = split_clip(frames)
        flowed = flow.run(context)  # the flow baseline's frame, and the motion of each clip
        with torch.no_grad():
            scoring.update(
                task,
                model,
                context,
                target,
                baseline_frames={name: flowed.frame for name in flow_names},
                columns={"motion": flowed.motion()},
            )
    return scoring.rows


def eval_batches(dataset: Any, max_samples: int | None, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """The first ``max_samples`` samples of ``dataset`` (all when None), in lists of ``batch_size``."""
    from dvcore.train.trainer import Head

    head = Head(dataset, max_samples)
    for start in range(0, len(head), batch_size):
        yield [head[i] for i in range(start, min(start + batch_size, len(head)))]


def summarize(rows: list[dict[str, Any]], metric_names: list[str]) -> dict[str, dict[str, float]]:
    """predictor -> {metric: mean over clips, metric_std: mean over clips of the per-clip std}."""
    from dvcore.tasks.interp_scoring import summarize_rows

    return summarize_rows(rows, metric_names)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def gain_vs_motion_image(rows: list[dict[str, Any]], metric: str, against: list[str]) -> torch.Tensor:
    """Per clip, the model's ``metric`` minus each baseline's, against the clip's motion: (3, H, W) in [0, 1].

    One scatter per baseline in ``against`` (those present in ``rows``), with the mean gain in
    bins of motion as a line; a dashed line at 0 (above it the model wins).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    score = {(r["clip"], r["predictor"]): r[metric] for r in rows}
    motion = {r["clip"]: r["motion"] for r in rows}
    clips = sorted(motion)
    fig = Figure(figsize=(6.0, 3.6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.array([motion[c] for c in clips])
    edges = np.quantile(x, np.linspace(0, 1, min(8, len(clips)) + 1)) if len(clips) > 1 else None
    for name in against:
        if (clips[0], name) not in score:
            continue
        gain = np.array([score[(c, "model")] - score[(c, name)] for c in clips])
        dots = ax.scatter(x, gain, s=10, alpha=0.5, label=f"model - {name} (mean {gain.mean():+.2f})")
        if edges is not None:
            which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
            centres = [x[which == k].mean() for k in range(len(edges) - 1) if (which == k).any()]
            means = [gain[which == k].mean() for k in range(len(edges) - 1) if (which == k).any()]
            ax.plot(centres, means, color=dots.get_facecolor()[0][:3], linewidth=2)
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("motion: mean |flow| between the frames around the target (px)")
    ax.set_ylabel(f"{metric} gain of the model")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3]  # (H, W, 3) uint8
    return torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255.0  # (3, H, W)


def write_loss_per_t_csv(held_out: Any, path: Path) -> None:
    """A HeldOutLoss's buckets as CSV: bucket, t_centre, loss, count."""
    centres, means, counts = held_out.per_t.compute()
    lines = ["bucket,t_centre,loss,count"]
    lines += [
        f"{k},{float(c):.1f},{float(m):.6g},{int(n)}"
        for k, (c, m, n) in enumerate(zip(centres, means, counts, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# Loss per timestep of a trained diffusion model
# ----------------------------------------------------------------------------------------------


def image_loss_per_timestep(
    task: Any, model: Any, *, buckets: int | None, max_samples: int | None, batch_size: int, seed: int
) -> HeldOutLoss:
    """The held-out diffusion loss in the loss's buckets of t, on the eval images (``GenerateTask``)."""
    from dvcore.diffusion.task_parts import HeldOutLoss, to_model_space
    from dvcore.seeding import eval_generator

    held_out = HeldOutLoss(task.diffusion, eval_generator(seed, "loss-per-t"), buckets)
    device = next(model.parameters()).device
    with torch.no_grad():
        for samples in eval_batches(task.datasets()["eval"], max_samples, batch_size):
            held_out.update(model, to_model_space(torch.stack([s["image"] for s in samples]).to(device)))
    return held_out


def clip_loss_per_timestep(
    task: Any, model: Any, *, buckets: int | None, max_samples: int | None, batch_size: int, seed: int
) -> HeldOutLoss:
    """The held-out loss of the middle frame in buckets of t (``InterpolateTask``, diffusion mode only)."""
    from dvcore.diffusion.task_parts import HeldOutLoss
    from dvcore.seeding import eval_generator
    from dvcore.tasks.interpolate import split_clip

    if task.diffusion is None:
        raise RecipeError(["not a diffusion run (loss per timestep needs task.mode = 'diffusion')"])
    held_out = HeldOutLoss(task.diffusion, eval_generator(seed, "loss-per-t"), buckets)
    device = next(model.parameters()).device
    with torch.no_grad():
        for samples in eval_batches(task.datasets()["eval"], max_samples, batch_size):
            context, target = split_clip(torch.stack([s["frames"] for s in samples]).to(device))
            task.update_held_out(held_out, model, context, target)
    return held_out


# ----------------------------------------------------------------------------------------------
# Scoring a run on other data: the data section from a file, and a name for it
# ----------------------------------------------------------------------------------------------


def data_section_from_file(path: Path) -> dict[str, Any]:
    """A TOML file's ``[data]`` table, or the whole file when it is itself a data section (``name = ...``)."""
    data = recipes.read(path)
    section = data.get("data", data)
    if not isinstance(section, dict | str) or (isinstance(section, dict) and "name" not in section):
        raise RecipeError([f'{path}: expected a [data] table or a data section with name = "..."'])
    section = {"name": section} if isinstance(section, str) else dict(section)
    section.pop("description", None)  # read() adds the file's header comment
    return section


def data_tag(data_file: Path | None, overrides: tuple[str, ...]) -> str:
    """A folder-friendly name for the data a run is scored on: the --data file's stem, then a hash of
    --set."""
    import hashlib
    import re

    parts = [data_file.stem] if data_file is not None else []
    if overrides:
        parts.append("set-" + hashlib.sha1("\n".join(overrides).encode()).hexdigest()[:8])
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", "_".join(parts))


def describe_data(section: Any) -> str:
    """``name (option=value, ...)`` with the options that differ from the component's defaults."""
    import attrs as _attrs

    options = section.options
    if options is None:
        return section.name
    changed = []
    for field in _attrs.fields(type(options)):
        default = field.default
        if isinstance(default, _attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        value = getattr(options, field.name)
        if default is _attrs.NOTHING or value != default:
            changed.append(f"{field.name}={value!r}")
    return f"{section.name} ({', '.join(changed)})" if changed else section.name
