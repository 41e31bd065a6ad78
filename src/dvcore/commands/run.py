"""`dvcore run` (train a recipe, or resume a run) and `dvcore validate` (check it, train nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dvcore.commands.common import fail, load_recipe, overrides_option, reading, registry


@click.command()
@click.argument("recipe", required=False)
@overrides_option
@click.option(
    "--run-dir", type=click.Path(path_type=Path), help="Run directory (default runs/<experiment>/<run-name>)."
)
@click.option(
    "--resume", "resume", type=click.Path(path_type=Path), help="Continue the run in this directory."
)
@click.option(
    "--restart",
    is_flag=True,
    help="Start over in a --run-dir that holds a run (the old run is moved aside to DIR.old-N).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar or periodic lines.")
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start from this run's weights (fine-tune; = --set init.from=RUN): fresh optimizer, step 0.",
)
def run(
    recipe: str | None,
    overrides: tuple[str, ...],
    run_dir: Path | None,
    resume: Path | None,
    restart: bool,
    no_progress: bool,
    init_from: Path | None,
) -> None:
    """Train RECIPE (or continue a run with --resume RUN_DIR)."""
    from dvcore.run import execute
    from dvcore.rundir import RECIPE_FILE, is_run

    if init_from is not None:
        if resume is not None:
            fail(["--init-from: a resumed run continues from its own checkpoint"], str(resume))
        overrides = (f"init.from={json.dumps(str(init_from))}", *overrides)
    if resume is not None:
        if restart:
            fail(["--restart: starts a new run; it cannot be combined with --resume"], "the arguments")
        if not is_run(resume):
            fail([f"--resume {resume}: not a dvcore run directory"], str(resume))
        recipe, run_dir = str(resume / RECIPE_FILE), resume
    elif recipe is None:
        raise click.UsageError("give a RECIPE, or --resume RUN_DIR")
    loaded = load_recipe(recipe, overrides)
    with reading(recipe):
        summary = execute(
            loaded,
            registry(),
            run_dir=run_dir,
            resume=resume is not None,
            restart=restart,
            progress=not no_progress,
        )
    if summary["eval"]:  # empty on ranks other than 0
        print_summary(summary)


def print_summary(summary: dict[str, Any]) -> None:
    """The final eval scores as a table: one row per predictor, one column per metric."""
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
    console = Console()
    console.print(table)
    console.print(f"run directory: {summary['run_dir']}")


@click.command()
@click.argument("recipe")
@overrides_option
def validate(recipe: str, overrides: tuple[str, ...]) -> None:
    """Check RECIPE completely and build its components on the meta device; train nothing."""
    from dvcore.run import validate as validate_recipe

    loaded = load_recipe(recipe, overrides)
    with reading(recipe):
        facts = validate_recipe(loaded, registry())
    click.echo(
        f"{recipe}: ok — {loaded.model.name} with {facts['parameters']:,} parameters, "
        f"channels {facts['channels'][0]}->{facts['channels'][1]}, samples {facts['sample_shape']}, "
        + ", ".join(f"{k} {v}" for k, v in facts["splits"].items())
    )
