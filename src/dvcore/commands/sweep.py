"""`dvcore sweep`: expand a grid of overrides into runs, validate them all, run what is left."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import click

from dvcore import recipe as recipes
from dvcore import sweep as sweeps
from dvcore.commands.common import fail, overrides_option, reading, registry
from dvcore.errors import EXIT_FAILURE, RecipeError


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers, got {text!r}", param_hint="--seeds"
        ) from None
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"expected seeds >= 0, got {text!r}", param_hint="--seeds")
    return seeds


def build_sweep(
    recipe: Path,
    grid: tuple[str, ...],
    seeds: str | None,
    overrides: tuple[str, ...],
    name: str | None,
    jobs: int | None,
    nproc_per_run: int | None,
    slurm: tuple[str, ...],
) -> sweeps.Sweep:
    """The sweep from the file's [sweep] table, with the command line's options over it."""
    file_name, table = sweeps.from_file(recipe)
    merged_grid = {**table.get("grid", {}), **sweeps.parse_grid(grid)}
    chosen_seeds = _seeds(seeds) if seeds is not None else table.get("seeds")
    if not merged_grid and not chosen_seeds:
        raise RecipeError(
            [f"{recipe}: nothing to sweep: give --grid KEY=V1,V2 or --seeds, or a [sweep] table"]
        )
    slurm_params = dict(table.get("slurm", {}))
    for item in slurm:
        key, value = recipes.parse_override(item)
        slurm_params[".".join(key)] = value
    return sweeps.Sweep(
        recipe=recipe,
        name=name or file_name or recipe.stem,
        grid=merged_grid,
        seeds=chosen_seeds,
        overrides=overrides,
        jobs=jobs or table.get("jobs", 1),
        nproc_per_run=nproc_per_run or table.get("nproc_per_run", 1),
        slurm=slurm_params,
    )


@click.command("sweep")
@click.argument("recipe", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--grid", multiple=True, metavar="KEY.PATH=V1,V2,...", help="Values of one key to sweep over.")
@click.option("--seeds", metavar="S1,S2,...", help="Seeds; every grid point runs once per seed.")
@overrides_option
@click.option("--name", help="Sweep name (default: [sweep].name, else the recipe file's stem).")
@click.option("--jobs", type=click.IntRange(min=1), help="Runs at a time (default 1; CPU threads are split).")
@click.option(
    "--launcher",
    type=click.Choice(["local", "slurm", "submitit-local"]),
    default="local",
    show_default=True,
    help="local: here; slurm: a SLURM job array through submitit; submitit-local: the same path, here.",
)
@click.option("--nproc-per-run", type=click.IntRange(min=1), help="Processes per run (torchrun), default 1.")
@click.option(
    "--slurm", "slurm", multiple=True, metavar="KEY=VALUE", help="submitit parameter, e.g. timeout_min=60."
)
@click.option(
    "--wait/--no-wait", default=None, help="Wait for SLURM jobs to end (default: no; local: always)."
)
@click.option("--dry-run", is_flag=True, help="Validate every run and list them; start nothing.")
def sweep(recipe: Path, launcher: str, wait: bool | None, dry_run: bool, **options: Any) -> None:
    """Run RECIPE over a grid of overrides (and seeds): runs named by what differs, resumable.

    Every run is validated before any starts. Running the same command again skips completed
    runs and resumes stopped ones from their checkpoints.

    ``options``: grid, seeds, overrides, name, jobs, nproc_per_run and slurm, for ``build_sweep``.
    """
    from dvcore.sweep_launch import launch, plan

    if launcher != "local" and importlib.util.find_spec("submitit") is None:
        fail([f"--launcher {launcher}: needs submitit: pip install 'dvcore[slurm]'"], "the options")
    with reading(recipe):
        spec = build_sweep(recipe, **options)
        base = sweeps.base_recipe(spec, registry())
        directory = sweeps.sweep_dir(base, spec)
        points = sweeps.expand(spec, directory, list(base.tags))
        sweeps.validate(spec, points, registry())
    states = plan(points)
    counts = {s: sum(1 for v in states.values() if v == s) for s in ("done", "resume", "restart", "new")}
    click.echo(
        f"sweep {spec.name}: {len(points)} runs in {directory} ({counts['done']} done, "
        f"{counts['resume']} to resume, {counts['new'] + counts['restart']} to start); all validated"
    )
    if dry_run:
        for p in points:
            click.echo(f"  {p.name}: {states[p.name]}")
        return
    sweeps.write_manifest(spec, points, directory)
    outcomes = launch(
        spec,
        points,
        directory,
        launcher=launcher,
        echo=lambda line: click.echo(line, err=True),
        wait=launcher != "slurm" if wait is None else wait,
    )
    for point_name, outcome in outcomes.items():
        click.echo(f"  {point_name}: {outcome}")
    failed = [n for n, o in outcomes.items() if o.startswith("failed")]
    pending = [n for n, o in outcomes.items() if o.startswith(("stopped", "not started"))]
    if pending:
        click.echo(f"dvcore: sweep stopped with {len(pending)} runs unfinished; the same command resumes it")
    elif not failed and all(o.startswith(("completed", "skipped")) for o in outcomes.values()):
        click.echo(f"dvcore: sweep complete; compare with: dvcore compare {directory}")
    if failed:
        sys.exit(EXIT_FAILURE)
