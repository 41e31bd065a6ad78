"""`dvcore export RUN_DIR OUT --format NAME`: a trained run in another library's format.

The formats are the registered ``exporter`` components (``dvcore plugins``); the core knows
none itself (``diffusers`` comes with dvcore-diffusers). OUT must not exist: an export never
overwrites. Bad input exits 2 with one line per problem (``dvcore.cli``); a failure while
writing exits 1 and leaves no OUT.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dvcore.commands.common import ema_option, run_dir_argument
from dvcore.errors import EXIT_FAILURE, RecipeError


@click.command("export")
@run_dir_argument
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, help="Exporter name, e.g. diffusers (see `dvcore plugins`).")
@ema_option
def export(run_dir: Path, out: Path, fmt: str, ema: bool | None) -> None:
    """Write the trained run RUN_DIR as FORMAT into the new directory OUT."""
    from dvcore.export import export_run  # heavy (torch): imported when the command runs
    from dvcore.plugins import plugins as loaded_plugins

    try:
        source = export_run(run_dir, fmt, out, loaded_plugins().registry, ema=ema)
    except RecipeError as exc:
        raise RecipeError(exc.problems, exc.source or str(run_dir)) from None
    except OSError as exc:
        click.echo(f"dvcore: export to {out} failed: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"{out}: {fmt} export of {run_dir} (step {source.step}, {source.weights} weights)")
