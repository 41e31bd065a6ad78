"""`dvcore plugin new NAME --kind KIND [--dir DIR]`: an installable plugin package (see dvcore.scaffold)."""

from __future__ import annotations

from pathlib import Path

import click

from dvcore.errors import RecipeError


@click.group("plugin")
def plugin_group() -> None:
    """Write plugin packages (the guide: docs/plugins.md)."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--kind", required=True, help="backbone, dataset, metric, sampler, schedule, loss, tracker or task."
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where the package folder NAME is created.",
)
def new(name: str, kind: str, directory: Path) -> None:
    """Write the package NAME/ with one working component of KIND, its options, kit tests and README.

    NAME is the distribution name, e.g. dvcore-sharpen (package dvcore_sharpen, component
    sharpen). An existing folder is never touched (exit 2).
    """
    from dvcore.scaffold import ScaffoldError, new_plugin, plugin_names

    try:
        root = new_plugin(name, kind, directory)
    except ScaffoldError as exc:
        raise RecipeError([str(exc)], "dvcore plugin new") from None
    names = plugin_names(name)
    click.echo(f"{root}: {kind} {names.component!r} in package {names.package}")
    click.echo(
        f"next: cd {root} && pip install -e . && pytest && dvcore plugins show {kind} {names.component}"
    )
