"""`dvcore eval gen`: score generated images (a folder, an npz, or a generation run's samples).

The click command is in ``dvcore.commands.evaluate``; here are the two ways it scores (a folder
against a reference, or a RUN's freshly sampled images against the eval split of its data or of
other data) and what they share: the set metrics with their feature options, and the score table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import click
from rich.console import Console
from rich.table import Table

from dvcore import recipe as recipes
from dvcore.atomic import write_text_atomic
from dvcore.commands.common import (
    fail,
    load_run,
    other_data,
    reading,
    registry,
    require_capability,
    sampler_override,
)
from dvcore.tasks.capabilities import SamplesImages


def metric_feature_options(features: str | None, weights: str | None, batch_size: int) -> dict[str, Any]:
    options: dict[str, Any] = {"batch_size": batch_size}
    if features:
        options["features"] = features
    if weights:
        options["weights"] = weights
    return options


def has_field(kind: str, name: str, field: str) -> bool:
    if (kind, name) not in registry():
        return False
    return field in attrs.fields_dict(registry().get(kind, name).options)


RUN_ONLY = ("num", "max_samples", "sampler", "steps", "eta", "ema", "seed", "out", "overrides")
RUN_DEFAULTS = {"seed": 0}


def set_metrics(
    metric_names: tuple[str, ...], options: dict[str, Any], reference: Path | None
) -> dict[str, Any]:
    """The --metric components with the feature options (a statistics file as their reference)."""
    from dvcore.evaluation import build_metrics, is_stats_file

    feature_options = metric_feature_options(options["features"], options["weights"], options["batch_size"])
    is_stats = reference is not None and reference.suffix == ".npz" and is_stats_file(reference)
    metrics = {}
    try:
        with reading("the metric options"):
            for name in metric_names:
                wants_ref = is_stats and has_field("metric", name, "reference")
                extra = {"reference": str(reference)} if wants_ref else {}
                metrics.update(build_metrics([name], {**feature_options, **extra}, registry()))
    except (FileNotFoundError, ValueError) as exc:
        fail([str(exc)], str(reference))
    return metrics


def print_scores(title: str, scores: dict[str, float], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(scores))
        return
    click.echo(title)
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in scores.items():
        table.add_row(name, f"{value:.6g}")
    Console().print(table)


def eval_gen_folder(
    samples: Path, reference: Path, metric_names: tuple[str, ...], options: dict[str, Any]
) -> None:
    from dvcore.evaluation import check_source, count_images, score_sets

    problems = check_source(samples, "SAMPLES") + check_source(reference, "--ref")
    if problems:
        fail(problems, "the arguments")
    metrics = set_metrics(metric_names, options, reference)
    scores = score_sets(samples, reference, metrics, options["batch_size"])
    title = f"{samples} ({count_images(samples)} images) vs {reference}"
    print_scores(title, scores, options["as_json"])


def eval_gen_run(
    run_dir: Path,
    reference: Path | None,
    metric_names: tuple[str, ...],
    *,
    num: int | None,
    max_samples: int | None,
    sampler: str | None,
    steps: int | None,
    eta: float | None,
    ema: bool | None,
    seed: int,
    out: Path | None,
    track: bool,
    overrides: tuple[str, ...],
    data_file: Path | None,
    as_json: bool,
    **feature_options: Any,
) -> None:
    """`dvcore eval gen RUN`: sample from the run's model and score the images against a reference."""
    from dvcore.evaluation import check_source, score_batches
    from dvcore.gen_scoring import generated_batches

    if reference is not None and (problems := check_source(reference, "--ref")):
        fail(problems, "the arguments")
    data, tag = other_data(data_file, overrides)
    run = load_run(run_dir, ema, "cpu", overrides, data)
    require_capability(run, SamplesImages, "eval gen")
    chosen = sampler_override(sampler, eta, run)
    batch_size = feature_options["batch_size"]
    metrics = set_metrics(metric_names, {**feature_options}, reference)
    num_reference, real, reference_name = _reference(run, reference, max_samples, batch_size)
    num = num or num_reference
    if num is None:
        fail(["--num: required when --ref is a statistics file"], "the arguments")
    with reading(run_dir):
        generated = generated_batches(
            run.task, run.model, num, batch_size=batch_size, seed=seed, sampler=chosen, num_steps=steps
        )
        scores = score_batches(metrics, generated, real)
    record = {
        "step": run.step,
        "weights": run.weights,
        "generated": num,
        "seed": seed,
        "sampler": sampler or (run.recipe.sampler.name if run.recipe.sampler else None),
        "steps": steps or getattr(getattr(run.task, "options", None), "sample_steps", None),
        "reference": reference_name,
        "reference_images": num_reference,
        "data": recipes.to_dict(run.recipe, registry())["data"] if reference is None else None,
        "scores": scores,
    }
    _report(run, run_dir, record, out or run_dir / (f"eval-{tag}" if tag else "eval"), tag, track, as_json)


def _reference(
    run: Any, reference: Path | None, max_samples: int | None, batch_size: int
) -> tuple[int | None, Iterator[Any], str]:
    """The reference: its number of images (None for statistics), its batches, and its name."""
    from dvcore.evaluation import count_images, describe_data, image_batches, is_stats_file
    from dvcore.gen_scoring import eval_split_images
    from dvcore.train.trainer import Head

    if reference is None:
        eval_split = run.task.datasets()["eval"]
        num_reference = len(Head(eval_split, max_samples))
        real = eval_split_images(eval_split, max_samples, batch_size)
        return num_reference, real, f"eval split of {describe_data(run.recipe.data)}"
    if reference.suffix == ".npz" and is_stats_file(reference):
        return None, iter(()), f"statistics {reference}"
    return count_images(reference), image_batches(reference, batch_size), str(reference)


def _report(
    run: Any, run_dir: Path, record: dict[str, Any], out: Path, tag: str | None, track: bool, as_json: bool
) -> None:
    """``out``/gen_summary.json (and the scores in the run's tracker), then the scores on the terminal."""
    from dvcore.track.run_tracker import log_scalars_to_run

    scores, num, num_reference = record["scores"], record["generated"], record["reference_images"]
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "gen_summary.json", json.dumps(record, indent=2))
    if track:
        context = f"eval_gen-{tag}" if tag else "eval_gen"
        log_scalars_to_run(run, {f"model/{k}": v for k, v in scores.items()}, run.step, context, registry())
    if not as_json:
        click.echo(f"data: {record['reference']}")
    title = f"{run_dir}: {num} images sampled at step {run.step} ({run.weights} weights) vs " + (
        f"{num_reference} reference images" if num_reference else "the reference statistics"
    )
    print_scores(title, scores, as_json)
    if not as_json:
        click.echo(str(out / "gen_summary.json"))
