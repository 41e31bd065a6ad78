"""The `dvcore` command: run | validate | plugins.

Bad input (a recipe that does not validate, a TOML syntax error, a bad --set)
prints one line per problem on stderr and exits with code 2, no traceback.
"""

from __future__ import annotations

import json
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
    metrics = sorted({k.split("/", 1)[1] for k in scores})
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
