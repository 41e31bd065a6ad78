"""`dvcore plugins`: every registered component with its origin and options."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dvcore.options import describe_options
from dvcore.plugins import plugins as loaded_plugins


@click.group("plugins", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool) -> None:
    """List every component: kind, name, origin package and version, options.

    A plugin that failed to load is named once, on stderr, when the plugins load (as for every
    command). A name that several distributions register shows each component under the
    qualified name a recipe must use (``dvcore-unet:unet``), marked as a clash.
    `dvcore plugins show KIND NAME` details one component.
    """
    if ctx.invoked_subcommand is not None:
        return
    loaded = loaded_plugins()
    clashing = {(c.kind, c.name) for owners in loaded.registry.clashes() for c in owners}
    rows: list[dict[str, Any]] = [
        {
            "kind": c.kind,
            "name": c.qualified_name if (c.kind, c.name) in clashing else c.name,
            "origin": c.origin,
            "version": c.version,
            "doc": c.doc,
            "clash": (c.kind, c.name) in clashing,
            "options": describe_options(c.options),
        }
        for c in loaded.registry
    ]
    if as_json:
        failures = [str(f) for f in loaded.failures]
        click.echo(json.dumps({"components": rows, "failures": failures}, indent=2, default=str))
        return
    console = Console()
    table = Table(show_lines=True)
    for col in ("kind", "name", "origin", "options"):
        table.add_column(col)
    for r in rows:
        opts = "\n".join(f"{o['name']}: {o['type']} = {o['default']!r}  {o['doc']}" for o in r["options"])
        clash = "\n[red]clash: the bare name is withdrawn[/red]" if r["clash"] else ""
        name = f"{r['name']}\n[dim]{r['doc']}[/dim]{clash}"
        table.add_row(r["kind"], name, f"{r['origin']} {r['version']}", opts)
    console.print(table)
