"""The `dvcore` command: run | validate | plugins.

Bad input (a recipe that does not validate, a TOML syntax error, a bad --set)
prints one line per problem on stderr and exits with code 2, no traceback.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

import attrs
import click
from rich.console import Console
from rich.table import Table

from dvcore import recipe as recipes
from dvcore.options import doc_of
from dvcore.plugins import plugins as loaded_plugins
from dvcore.recipe import RecipeError

EXIT_BAD_INPUT = 2


def _fail(problems: list[str], source: str) -> typing.NoReturn:
    for line in problems:
        click.echo(line, err=True)
    noun = "problem" if len(problems) == 1 else "problems"
    click.echo(f"dvcore: {len(problems)} {noun} in {source}; nothing was run", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _load(recipe_path: str, overrides: tuple[str, ...]) -> recipes.Recipe:
    try:
        return recipes.load(recipe_path, overrides, loaded_plugins().registry)
    except RecipeError as exc:
        _fail(exc.problems, recipe_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dvcore")
def main() -> None:
    """dvcore: diffusion models and video frame interpolation from TOML recipes."""


# ----------------------------------------------------------------------------------------------
# run / validate
# ----------------------------------------------------------------------------------------------


@main.command()
@click.argument("recipe", required=False)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a recipe value (TOML syntax).",
)
@click.option(
    "--run-dir", type=click.Path(path_type=Path), help="Run directory (default runs/<experiment>/<run-name>)."
)
@click.option(
    "--resume", "resume", type=click.Path(path_type=Path), help="Continue the run in this directory."
)
@click.option("--no-progress", is_flag=True, help="No progress bar or periodic lines.")
def run(
    recipe: str | None,
    overrides: tuple[str, ...],
    run_dir: Path | None,
    resume: Path | None,
    no_progress: bool,
) -> None:
    """Train RECIPE (or continue a run with --resume RUN_DIR)."""
    from dvcore.run import RECIPE_FILE, execute
    from dvcore.train.trainer import TrainingDiverged, TrainingStopped

    if resume is not None:
        if not (resume / RECIPE_FILE).exists():
            _fail([f"--resume {resume}: not a run directory (no {RECIPE_FILE})"], str(resume))
        recipe, run_dir = str(resume / RECIPE_FILE), resume
    elif recipe is None:
        raise click.UsageError("give a RECIPE, or --resume RUN_DIR")
    loaded = _load(recipe, overrides)
    registry = loaded_plugins().registry
    try:
        summary = execute(
            loaded, registry, run_dir=run_dir, resume=resume is not None, progress=not no_progress
        )
    except RecipeError as exc:
        _fail(exc.problems, recipe)
    except TrainingStopped as stop:
        stopped_dir = stop.checkpoint_path.parent.parent
        click.echo(
            f"dvcore: stopped by signal {stop.signum} after step {stop.step}; checkpoint written.", err=True
        )
        click.echo(f"dvcore: resume with: dvcore run --resume {stopped_dir}", err=True)
        sys.exit(0)
    except TrainingDiverged as exc:
        click.echo(f"dvcore: training diverged: {exc}", err=True)
        sys.exit(1)
    if summary["eval"]:  # empty on ranks other than 0
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    scores = summary["eval"]
    predictors = sorted({k.split("/", 1)[0] for k in scores}, key=lambda p: (p != "model", p))
    # per-timestep-bucket losses stay in summary.json and the tracker's figure
    metrics = sorted({k.split("/", 1)[1] for k in scores if not re.search(r"_t\d+-\d+$", k)})
    table = Table(title=f"{summary['experiment']}: step {summary['steps']}, {summary['train_seconds']:.0f} s")
    table.add_column("predictor")
    for m in metrics:
        table.add_column(m, justify="right")
    for p in predictors:
        table.add_row(p, *(f"{scores[f'{p}/{m}']:.4f}" if f"{p}/{m}" in scores else "" for m in metrics))
    console.print(table)
    console.print(f"run directory: {summary['run_dir']}")


@main.command()
@click.argument("recipe")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a recipe value (TOML syntax).",
)
def validate(recipe: str, overrides: tuple[str, ...]) -> None:
    """Check RECIPE completely and build its components on the meta device; train nothing."""
    from dvcore.run import validate as validate_recipe

    loaded = _load(recipe, overrides)
    try:
        facts = validate_recipe(loaded, loaded_plugins().registry)
    except RecipeError as exc:
        _fail(exc.problems, recipe)
    click.echo(
        f"{recipe}: ok — {loaded.model.name} with {facts['parameters']:,} parameters, "
        f"channels {facts['channels'][0]}->{facts['channels'][1]}, samples {facts['sample_shape']}, "
        + ", ".join(f"{k} {v}" for k, v in facts["splits"].items())
    )


# ----------------------------------------------------------------------------------------------
# sample / movie
# ----------------------------------------------------------------------------------------------


def _load_run(run_dir: Path, ema: bool | None, device: str):
    from dvcore.inference import load_run

    try:
        return load_run(run_dir, loaded_plugins().registry, ema=ema, device=device)
    except RecipeError as exc:
        _fail(exc.problems, str(run_dir))


def _sampler_override(name: str | None, eta: float | None, run) -> Any:
    """A sampler built from --sampler/--eta (validated like a recipe section); None = the run's."""
    if name is None and eta is None:
        return None
    from dvcore.recipe import SamplerSection

    registry = loaded_plugins().registry
    section = {"name": name or (run.recipe.sampler.name if run.recipe.sampler else "ddim")}
    if eta is not None:
        section["eta"] = eta
    try:
        parsed = recipes.structure(section, registry, SamplerSection)
    except RecipeError as exc:
        _fail([f"--sampler/--eta: {p.removeprefix('(recipe): ')}" for p in exc.problems], "the options")
    return registry.get("sampler", parsed.name).build(parsed.options)


def _needs_sampling(run, command: str) -> None:
    if not hasattr(run.task, "sample"):
        _fail(
            [f"{command}: the run's task {run.recipe.task.name!r} does not sample images"], str(run.run_dir)
        )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--num",
    "-n",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Images to write (under torchrun use -n: torchrun itself claims --num as an abbreviation).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--sampler", help="Sampler name (default: the recipe's).")
@click.option("--steps", type=click.IntRange(min=1), help="Sampling steps (default: the recipe's).")
@click.option("--eta", type=float, help="DDIM eta.")
@click.option("--ema/--no-ema", default=None, help="EMA or raw weights (default: EMA when the run kept one).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for 000000.png ...")
@click.option("--seed", type=int, default=0, show_default=True, help="Image i depends on (seed, i) only.")
@click.option("--npz", is_flag=True, help="Also write all images as one samples.npz (uint8 N,H,W,C).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def sample(run_dir, num, batch_size, sampler, steps, eta, ema, out, seed, npz, device) -> None:
    """Write NUM generated images from a trained run: deterministic per index, resumable, data-parallel."""
    from dvcore.run import resolve_device
    from dvcore.sampling import sample_to_folder, write_npz
    from dvcore.train import distributed

    dev = resolve_device(device)
    dist_info = distributed.init(dev)
    dev = distributed.device_for(dist_info, dev)
    run = _load_run(run_dir, ema, str(dev))
    _needs_sampling(run, "sample")
    chosen = _sampler_override(sampler, eta, run)
    stats = sample_to_folder(
        run.task,
        run.model,
        out,
        num=num,
        batch_size=batch_size,
        seed=seed,
        dist=dist_info,
        sampler=chosen,
        num_steps=steps,
    )
    distributed.barrier(dist_info)
    if dist_info.is_main:
        if npz:
            write_npz(out, num, out / "samples.npz")
        click.echo(
            f"{out}: {num} images ({stats['written']} written now by rank 0, {stats['images_per_s']:.1f} images/s), "
            f"{run.weights} weights of step {run.step}"
        )
    distributed.shutdown(dist_info)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--num", type=click.IntRange(min=1), default=16, show_default=True, help="Samples in the grid.")
@click.option("--sampler", help="Sampler name (default: the recipe's).")
@click.option("--steps", type=click.IntRange(min=1), help="Sampling steps (default: the recipe's).")
@click.option("--eta", type=float, help="DDIM eta.")
@click.option("--ema/--no-ema", default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fps", type=float, default=8, show_default=True)
@click.option("--scale", type=click.IntRange(min=1), default=2, show_default=True, help="Pixel upscaling.")
@click.option("--out", type=click.Path(path_type=Path), multiple=True, help="movie.gif and/or movie.mp4.")
@click.option("--track/--no-track", default=True, help="Also log the frames to the run's tracker.")
def movie(run_dir, num, sampler, steps, eta, ema, seed, fps, scale, out, track) -> None:
    """Render the denoising trajectory (x_t | predicted x0, every step) to GIF/MP4 and the tracker.

    Interpolation runs: eval clips as context frames | x_t | predicted | target per step (diffusion),
    or the clips played back with the predicted middle frame beside the true one (regression).
    """
    from dvcore.movie import trajectory_frames, write_gif, write_mp4
    from dvcore.sampling import image_generator

    run = _load_run(run_dir, ema, "cpu")
    chosen = _sampler_override(sampler, eta, run)
    if run.recipe.task.name == "interpolate":
        frames = _interpolation_movie(run, num, chosen, steps, seed, scale)
    else:
        _needs_sampling(run, "movie")
        result = run.task.sample(
            run.model,
            num,
            generator=[image_generator(seed, i) for i in range(num)],
            sampler=chosen,
            num_steps=steps,
            record=True,
        )
        frames = trajectory_frames(result.trajectory, result.timesteps, scale=scale)
    outputs = list(out) or [run_dir / "movie.gif"]
    for path in outputs:
        if path.suffix.lower() == ".mp4":
            write_mp4(frames, path, fps)
        else:
            write_gif(frames, path, fps)
        click.echo(f"{path}: {len(frames)} frames")
    if track:
        _track_frames(run, frames)


def _interpolation_movie(run, num, sampler, steps, seed, scale):
    """Eval clips: the diffusion trajectory of the middle frame, or (regression) the clips played back."""
    import torch

    from dvcore.movie import interpolation_playback_frames, interpolation_trajectory_frames
    from dvcore.tasks.interpolate import split_clip

    eval_set = run.task.datasets()["eval"]
    frames = torch.stack([eval_set[i]["frames"] for i in range(min(num, len(eval_set)))])  # (R, N, C, H, W)
    context, target = split_clip(frames)
    with torch.no_grad():
        if getattr(run.task, "diffusion", None) is None:
            return interpolation_playback_frames(
                frames, run.task.predict(run.model, context).clamp(0, 1), scale
            )
        generator = torch.Generator().manual_seed(seed)
        result = run.task.sample_middle(
            run.model, context, generator=generator, sampler=sampler, num_steps=steps, record=True
        )
    return interpolation_trajectory_frames(context, result.trajectory, target, result.timesteps, scale)


def _track_frames(run, frames) -> None:
    """Log the movie frames as an image sequence into the run's own tracker run."""
    import torch

    images = [{"trajectory": torch.from_numpy(f.copy()).permute(2, 0, 1) / 255.0} for f in frames]
    _track_images(run, images, [("movie", k) for k in range(len(frames))])


def _track_images(run, images, where) -> None:
    """Log images (a dict, or a list of dicts with one (context, step) each) into the run's tracker run."""
    from dvcore.track.base import RunInfo

    summary_path = run.run_dir / "summary.json"
    run_id = json.loads(summary_path.read_text()).get("tracker_run_id") if summary_path.exists() else None
    info = RunInfo(run.recipe.experiment, run.run_dir.name, run.run_dir, Path(run.recipe.runs_root), run_id)
    component = loaded_plugins().registry.get("tracker", run.recipe.tracker.name)
    tracker = component.build(run.recipe.tracker.options, run=info)
    try:
        for batch, (context, step) in zip(
            images if isinstance(images, list) else [images], where, strict=True
        ):
            tracker.log_images(batch, step, context=context)
    finally:
        tracker.close()


# ----------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------


@main.group("eval")
def eval_group() -> None:
    """Score samples (FID, KID, IS), make reference statistics, evaluate interpolation runs."""


def _feature_options(features: str | None, weights: str | None, batch_size: int) -> dict[str, Any]:
    options: dict[str, Any] = {"batch_size": batch_size}
    if features:
        options["features"] = features
    if weights:
        options["weights"] = weights
    return options


def _has_field(kind: str, name: str, field: str) -> bool:
    registry = loaded_plugins().registry
    if (kind, name) not in registry:
        return False
    return field in attrs.fields_dict(registry.get(kind, name).options)


@eval_group.command("gen")
@click.argument("samples", type=click.Path(path_type=Path))
@click.option(
    "--ref",
    "reference",
    type=click.Path(path_type=Path),
    required=True,
    help="Reference images (folder or npz of images) or statistics (.npz from `dvcore eval stats`).",
)
@click.option("--metric", "metric_names", multiple=True, default=("fid", "kid"), show_default=True)
@click.option("--features", help="Feature network: inception (default; needs its weights) or random_conv.")
@click.option("--weights", help="FID Inception weights file (default: $DVCORE_FID_WEIGHTS).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def eval_gen(samples, reference, metric_names, features, weights, batch_size, as_json) -> None:
    """Score generated SAMPLES (a folder of images or an npz) against a reference."""
    from dvcore.evaluation import build_metrics, check_source, count_images, is_stats_file, score_sets

    problems = check_source(samples, "SAMPLES") + check_source(reference, "--ref")
    if problems:
        _fail(problems, "the arguments")
    options = _feature_options(features, weights, batch_size)
    is_stats = reference.suffix == ".npz" and is_stats_file(reference)
    registry = loaded_plugins().registry
    metrics = {}
    try:
        for name in metric_names:
            extra = (
                {"reference": str(reference)} if is_stats and _has_field("metric", name, "reference") else {}
            )
            metrics.update(build_metrics([name], {**options, **extra}, registry))
    except RecipeError as exc:
        _fail(exc.problems, "the metric options")
    except (FileNotFoundError, ValueError) as exc:
        _fail([str(exc)], str(reference))
    scores = score_sets(samples, reference, metrics, batch_size)
    if as_json:
        click.echo(json.dumps(scores))
        return
    table = Table(title=f"{samples} ({count_images(samples)} images) vs {reference}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in scores.items():
        table.add_row(name, f"{value:.6g}")
    Console().print(table)


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
@click.option("--features", help="Feature network: inception (default; needs its weights) or random_conv.")
@click.option("--weights", help="FID Inception weights file (default: $DVCORE_FID_WEIGHTS).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
def eval_stats(images, out, metric_name, features, weights, batch_size) -> None:
    """Compute reference statistics of IMAGES once (folder or npz) for later `dvcore eval gen --ref`."""
    from dvcore.evaluation import build_metrics, check_source, image_batches

    problems = check_source(images, "IMAGES")
    if problems:
        _fail(problems, "the arguments")
    try:
        (metric,) = build_metrics(
            [metric_name], _feature_options(features, weights, batch_size), loaded_plugins().registry
        ).values()
    except RecipeError as exc:
        _fail(exc.problems, "the metric options")
    if not hasattr(metric, "save_reference"):
        _fail(
            [f"--metric {metric_name}: has no reference statistics (not a set-level metric)"], "the arguments"
        )
    count = 0
    for batch in image_batches(images, batch_size):
        metric.update(None, batch)
        count += len(batch)
    metric.save_reference(out)
    click.echo(f"{out}: reference statistics of {count} images ({metric_name})")


@eval_group.command("interp")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Folder for per_clip.csv and summary.json.")
@click.option(
    "--metric", "metric_names", multiple=True, default=("psnr", "psnr_uint8", "ssim"), show_default=True
)
@click.option(
    "--samples", "samples_per_clip", type=click.IntRange(min=1), help="Diffusion: samples per clip."
)
@click.option("--max-samples", type=click.IntRange(min=1), help="Evaluate on the first N eval clips.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--ema/--no-ema", default=None)
@click.option("--seed", type=int, default=0, show_default=True)
def eval_interp(run_dir, out, metric_names, samples_per_clip, max_samples, batch_size, ema, seed) -> None:
    """PSNR (float and uint8) and SSIM per eval clip for an interpolation run, beside copy and blend."""
    from dvcore.evaluation import interpolation_scores, summarize, write_csv

    run = _load_run(run_dir, ema, "cpu")
    registry = loaded_plugins().registry
    unknown = [n for n in metric_names if ("metric", n) not in registry]
    if unknown or run.recipe.task.name != "interpolate":
        problems = [f"--metric: unknown metric {n!r}" for n in unknown]
        if run.recipe.task.name != "interpolate":
            problems.append(f"{run_dir}: not an interpolation run (task {run.recipe.task.name!r})")
        _fail(problems, str(run_dir))
    samples = samples_per_clip or run.task.options.samples_per_clip
    rows = interpolation_scores(
        run,
        list(metric_names),
        registry,
        samples_per_clip=samples,
        max_samples=max_samples,
        batch_size=batch_size,
        seed=seed,
    )
    summary = summarize(rows, list(metric_names))
    out = out or run_dir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "per_clip.csv")
    (out / "summary.json").write_text(
        json.dumps({"step": run.step, "weights": run.weights, **summary}, indent=2)
    )
    table = Table(
        title=f"{run_dir}: {len(rows) // len(summary)} clips, step {run.step} ({run.weights} weights)"
    )
    table.add_column("predictor")
    for name in metric_names:
        table.add_column(name, justify="right")
    for predictor, values in summary.items():
        cells = [
            f"{values[n]:.4f}" + (f" ± {values[n + '_std']:.4f}" if values[n + "_std"] else "")
            for n in metric_names
        ]
        table.add_row(predictor, *cells)
    Console().print(table)
    click.echo(f"{out / 'per_clip.csv'}, {out / 'summary.json'}")


@eval_group.command("loss-per-t")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--buckets", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Folder for loss_per_t.csv and .png.")
@click.option("--max-samples", type=click.IntRange(min=1), help="Use the first N eval samples.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--ema/--no-ema", default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--track/--no-track", default=True, help="Also log the curve to the run's tracker.")
def eval_loss_per_t(run_dir, buckets, out, max_samples, batch_size, ema, seed, track) -> None:
    """The trained model's held-out loss in buckets of t: CSV, PNG plot, and the run's tracker."""
    from dvcore.evaluation import loss_per_timestep
    from dvcore.inference import load_run
    from dvcore.sampling import save_png

    try:
        run = load_run(
            run_dir, loaded_plugins().registry, ema=ema, overrides=(f"loss.loss_buckets={buckets}",)
        )
        held_out = loss_per_timestep(run, max_samples=max_samples, batch_size=batch_size, seed=seed)
    except RecipeError as exc:
        _fail(exc.problems, str(run_dir))
    centres, means, counts = held_out.per_t.compute()
    out = out or run_dir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    lines = ["bucket,t_centre,loss,count"]
    lines += [
        f"{k},{float(c):.1f},{float(m):.6g},{int(n)}"
        for k, (c, m, n) in enumerate(zip(centres, means, counts, strict=True))
    ]
    (out / "loss_per_t.csv").write_text("\n".join(lines) + "\n")
    figure = held_out.figure()
    save_png(figure, out / "loss_per_t.png")
    if track:
        _track_images(run, {"loss_per_t": figure}, [("loss_per_t", run.step)])
    click.echo(
        f"{out / 'loss_per_t.csv'}, {out / 'loss_per_t.png'}: {buckets} buckets, {held_out.count} samples"
    )


# ----------------------------------------------------------------------------------------------
# plugins
# ----------------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if tp is None:
        return "?"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def describe_options(options_cls: type) -> list[dict[str, Any]]:
    out = []
    for field in attrs.fields(attrs.resolve_types(options_cls)):
        if field.default is attrs.NOTHING:
            default: Any = "(required)"
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            default = field.default.factory()
        else:
            default = field.default
        out.append(
            {"name": field.name, "type": _type_name(field.type), "default": default, "doc": doc_of(field)}
        )
    return out


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json: bool) -> None:
    """List every component: kind, name, origin package and version, options."""
    loaded = loaded_plugins()
    rows = [
        {
            "kind": c.kind,
            "name": c.name,
            "origin": c.origin,
            "version": c.version,
            "doc": c.doc,
            "options": describe_options(c.options),
        }
        for c in loaded.registry
    ]
    failures = [str(f) for f in loaded.failures]
    if as_json:
        click.echo(json.dumps({"components": rows, "failures": failures}, indent=2, default=str))
        return
    console = Console()
    table = Table(show_lines=True)
    for col in ("kind", "name", "origin", "options"):
        table.add_column(col)
    for r in rows:
        opts = "\n".join(f"{o['name']}: {o['type']} = {o['default']!r}  {o['doc']}" for o in r["options"])
        table.add_row(r["kind"], f"{r['name']}\n[dim]{r['doc']}[/dim]", f"{r['origin']} {r['version']}", opts)
    console.print(table)
    for f in failures:
        console.print(f"[red]{f}[/red]")


if __name__ == "__main__":
    main()
