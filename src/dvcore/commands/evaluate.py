"""`dvcore eval`: score generated images, make reference statistics, evaluate trained runs.

- ``gen``: FID / KID / IS of a folder (or npz) of generated images against a reference, or of a
  generation run's samples against the eval images of its data (or other data);
- ``stats``: the reference statistics of a set of images, computed once;
- ``interp``: per-clip PSNR / SSIM of an interpolation run beside its baselines (copy, blend, flow),
  with each clip's motion and the gain over blend / flow against motion (PNG);
- ``loss-per-t``: a diffusion run's held-out loss in buckets of t.

``gen RUN``, ``interp`` and ``loss-per-t`` score a run on other data with ``--data FILE.toml`` (its data
section replaces the run's) and ``--set data.key=value``; only the eval split is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dvcore import recipe as recipes
from dvcore.commands.common import (
    batch_size_option,
    data_option,
    ema_option,
    eta_option,
    eval_overrides_option,
    fail,
    features_option,
    load_run,
    other_data,
    reading,
    registry,
    require_capability,
    run_dir_argument,
    sampler_option,
    seed_option,
    steps_option,
    track_option,
    weights_option,
)
from dvcore.commands.evaluate_gen import (
    RUN_DEFAULTS,
    RUN_ONLY,
    eval_gen_folder,
    eval_gen_run,
    metric_feature_options,
)
from dvcore.rundir import RECIPE_FILE
from dvcore.tasks.capabilities import EvaluatesRuns, LossPerTimestep


@click.group("eval")
def eval_group() -> None:
    """Score samples (FID, KID, IS), make reference statistics, evaluate interpolation runs."""


@eval_group.command("gen")
@click.argument("samples", metavar="SAMPLES_OR_RUN", type=click.Path(path_type=Path))
@click.option(
    "--ref",
    "reference",
    type=click.Path(path_type=Path),
    help="Reference images (folder or npz of images) or statistics (.npz from `dvcore eval stats`); "
    "required for SAMPLES; for a RUN the default is the eval split of its data (or of --data / --set).",
)
@click.option("--metric", "metric_names", multiple=True, default=("fid", "kid"), show_default=True)
@features_option
@weights_option
@batch_size_option(64)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--num",
    "-n",
    type=click.IntRange(min=1),
    help="RUN: images to generate (default: as many as the reference).",
)
@click.option(
    "--max-samples", type=click.IntRange(min=1), help="RUN: use the first N eval images as reference."
)
@sampler_option
@steps_option
@eta_option
@ema_option
@click.option(
    "--seed", type=int, default=0, show_default=True, help="RUN: image i depends on (seed, i) only."
)
@click.option("--out", type=click.Path(path_type=Path), help="RUN: folder for gen_summary.json.")
@track_option
@eval_overrides_option
@data_option
def eval_gen(samples: Path, reference: Path | None, metric_names: tuple[str, ...], **options: Any) -> None:
    """Score generated SAMPLES (a folder of images or an npz), or a generation RUN, against a reference.

    For a RUN directory the images are sampled from its model (EMA when it kept one), exactly those
    `dvcore sample RUN --seed S` writes, and scored against the eval split of the run's data, or of
    other data with --data FILE.toml (its data section replaces the run's) and --set data.key=value:
    only that eval split is built. The output names the data and goes to RUN/eval-<data>/gen_summary.json
    (RUN/eval/ for the run's own data) unless --out says otherwise.
    """
    if (samples / RECIPE_FILE).exists():
        eval_gen_run(samples, reference, metric_names, **options)
        return
    run_only = [
        f"--{k.replace('_', '-')}" for k in RUN_ONLY if options[k] not in (None, (), RUN_DEFAULTS.get(k))
    ]
    if run_only or options["data_file"]:
        given = run_only + (["--data"] if options["data_file"] else [])
        fail(
            [f"{', '.join(given)}: only for a RUN directory; {samples} has no {RECIPE_FILE}"], "the arguments"
        )
    if reference is None:
        fail(["--ref: required when SAMPLES is a folder or npz of images"], "the arguments")
    eval_gen_folder(samples, reference, metric_names, options)


@eval_group.command("stats")
@click.argument("images", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Statistics file (.npz).")
@click.option(
    "--metric",
    "metric_name",
    default="fid",
    show_default=True,
    help="fid: mean + covariance; kid: also the raw features (serves FID too).",
)
@features_option
@weights_option
@batch_size_option(64)
def eval_stats(
    images: Path, out: Path, metric_name: str, features: str | None, weights: str | None, batch_size: int
) -> None:
    """Compute reference statistics of IMAGES once (folder or npz) for later `dvcore eval gen --ref`."""
    from dvcore.evaluation import build_metrics, check_source, image_batches

    problems = check_source(images, "IMAGES")
    if problems:
        fail(problems, "the arguments")
    with reading("the metric options"):
        options = metric_feature_options(features, weights, batch_size)
        (metric,) = build_metrics([metric_name], options, registry()).values()
    if not hasattr(metric, "save_reference"):
        fail(
            [f"--metric {metric_name}: has no reference statistics (not a set-level metric)"], "the arguments"
        )
    count = 0
    for batch in image_batches(images, batch_size):
        metric.update(None, batch)
        count += len(batch)
    metric.save_reference(out)
    click.echo(f"{out}: reference statistics of {count} images ({metric_name})")


@eval_group.command("interp")
@run_dir_argument
@click.option("--out", type=click.Path(path_type=Path), help="Folder for per_clip.csv and summary.json.")
@click.option(
    "--metric", "metric_names", multiple=True, default=("psnr", "psnr_uint8", "ssim"), show_default=True
)
@click.option(
    "--samples", "samples_per_clip", type=click.IntRange(min=1), help="Diffusion: samples per clip."
)
@click.option("--max-samples", type=click.IntRange(min=1), help="Evaluate on the first N eval clips.")
@click.option(
    "--tile",
    type=click.IntRange(min=1),
    help="Regression: predict full frames on overlapping tiles of this side (bounded memory); "
    "sets task.tile.",
)
@batch_size_option(32)
@ema_option
@click.option(
    "--seed", type=int, help="Seed of the diffusion samples (default: the recipe's, as in training)."
)
@track_option
@eval_overrides_option
@data_option
def eval_interp(
    run_dir: Path,
    out: Path | None,
    metric_names: tuple[str, ...],
    samples_per_clip: int | None,
    max_samples: int | None,
    tile: int | None,
    batch_size: int,
    ema: bool | None,
    seed: int | None,
    track: bool,
    overrides: tuple[str, ...],
    data_file: Path | None,
) -> None:
    """PSNR (float and uint8) and SSIM per eval clip for an interpolation run, beside its baselines.

    Writes per_clip.csv (one row per clip and predictor, with the clip's motion: the mean optical
    flow between the frames around the target), summary.json, and gain_vs_motion.png: the model's
    PSNR gain over blend and over flow per clip against its motion (also logged to the run's tracker).
    With --data / --set the run's model is scored on other data (only its eval split is read);
    the output names the data and goes to RUN_DIR/eval-<data> unless --out says otherwise.
    """
    from dvcore.evaluation import gain_vs_motion_image, summarize, write_csv
    from dvcore.sampling import save_png
    from dvcore.track.run_tracker import log_images_to_run

    data, tag = other_data(data_file, overrides)
    run = load_run(run_dir, ema, "cpu", (*overrides, *((f"task.tile={tile}",) if tile else ())), data)
    metrics = _per_sample_metrics(run, metric_names)
    with reading(run_dir):
        rows = run.task.evaluate_run(
            run.model,
            metrics,
            samples_per_item=samples_per_clip,
            max_samples=max_samples,
            batch_size=batch_size,
            seed=run.recipe.seed if seed is None else seed,
        )
    summary = summarize(rows, list(metric_names))
    motion = sum(r["motion"] for r in rows if r["predictor"] == "model") / (len(rows) // len(summary))
    out = out or run_dir / (f"eval-{tag}" if tag else "eval")
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "per_clip.csv")
    _write_interp_summary(run, motion, summary, out / "summary.json")
    metric = "psnr" if "psnr" in metric_names else metric_names[0]
    figure = gain_vs_motion_image(rows, metric, ["blend", "flow"])
    save_png(figure, out / "gain_vs_motion.png")
    if track:
        context = f"eval_interp-{tag}" if tag else "eval_interp"
        log_images_to_run(run, [{"gain_vs_motion": figure}], [(context, run.step)], registry())
    _print_interp_table(run, rows, summary, metric_names)
    click.echo(
        f"mean motion {motion:.2f} px; {out / 'per_clip.csv'}, {out / 'summary.json'}, "
        f"{out / 'gain_vs_motion.png'}"
    )


def _check_interp_arguments(run: Any, metric_names: tuple[str, ...]) -> None:
    unknown = [n for n in metric_names if ("metric", n) not in registry()]
    problems = [f"--metric: unknown metric {n!r}" for n in unknown]
    if run.recipe.task.name != "interpolate":
        problems.append(f"{run.run_dir}: not an interpolation run (task {run.recipe.task.name!r})")
    if problems:
        fail(problems, str(run.run_dir))


def _per_sample_metrics(run: Any, metric_names: tuple[str, ...]) -> dict[str, Any]:
    """The --metric components, built; bad names and a task that cannot evaluate runs are bad input."""
    unknown = [n for n in metric_names if ("metric", n) not in registry()]
    if unknown:
        fail([f"--metric: unknown metric {n!r}" for n in unknown], str(run.run_dir))
    require_capability(run, EvaluatesRuns, "eval interp")
    return {name: registry().get("metric", name).build(None) for name in metric_names}


def _write_interp_summary(run: Any, motion: float, summary: dict[str, Any], path: Path) -> None:
    data_record = recipes.to_dict(run.recipe, registry())["data"]
    record = {"step": run.step, "weights": run.weights, "data": data_record, "motion": motion, **summary}
    path.write_text(json.dumps(record, indent=2))


def _print_interp_table(
    run: Any, rows: list[dict[str, Any]], summary: dict[str, dict[str, float]], metric_names: tuple[str, ...]
) -> None:
    from dvcore.evaluation import describe_data

    click.echo(f"data: {describe_data(run.recipe.data)}")
    click.echo(f"{run.run_dir}: {len(rows) // len(summary)} clips, step {run.step} ({run.weights} weights)")
    table = Table()  # the title above, unwrapped: a table's title wraps to the table's width
    table.add_column("predictor")
    for name in metric_names:
        table.add_column(name, justify="right")
    for predictor, values in summary.items():
        cells = [
            f"{values[n]:.4f}" + (f" ± {values[n + '_std']:.4f}" if values.get(n + "_std") else "")
            for n in metric_names
        ]
        table.add_row(predictor, *cells)
    Console().print(table)


@eval_group.command("loss-per-t")
@run_dir_argument
@click.option("--buckets", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Folder for loss_per_t.csv and .png.")
@click.option("--max-samples", type=click.IntRange(min=1), help="Use the first N eval samples.")
@batch_size_option(64)
@ema_option
@seed_option
@track_option
@eval_overrides_option
@data_option
def eval_loss_per_t(
    run_dir: Path,
    buckets: int,
    out: Path | None,
    max_samples: int | None,
    batch_size: int,
    ema: bool | None,
    seed: int,
    track: bool,
    overrides: tuple[str, ...],
    data_file: Path | None,
) -> None:
    """The trained model's held-out loss in buckets of t: CSV, PNG plot, and the run's tracker.

    With --data / --set the loss is measured on other data (only its eval split is read).
    """
    from dvcore.evaluation import describe_data, write_loss_per_t_csv
    from dvcore.sampling import save_png
    from dvcore.track.run_tracker import log_images_to_run

    data, tag = other_data(data_file, overrides)
    run = load_run(run_dir, ema, "cpu", overrides, data)
    require_capability(run, LossPerTimestep, "eval loss-per-t")
    with reading(run_dir):
        held_out = run.task.loss_per_timestep(
            run.model, buckets=buckets, max_samples=max_samples, batch_size=batch_size, seed=seed
        )
    out = out or run_dir / (f"eval-{tag}" if tag else "eval")
    out.mkdir(parents=True, exist_ok=True)
    write_loss_per_t_csv(held_out, out / "loss_per_t.csv")
    figure = held_out.figure()
    save_png(figure, out / "loss_per_t.png")
    if track:
        context = f"loss_per_t-{tag}" if tag else "loss_per_t"  # other data: its own curve beside the run's
        log_images_to_run(run, [{"loss_per_t": figure}], [(context, run.step)], registry())
    click.echo(
        f"{out / 'loss_per_t.csv'}, {out / 'loss_per_t.png'}: {buckets} buckets, {held_out.count} samples "
        f"of data: {describe_data(run.recipe.data)}"
    )
