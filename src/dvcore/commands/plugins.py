"""`dvcore plugins`: every registered component with its origin and options."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from dvcore.options import describe_options
from dvcore.plugins import plugins as loaded_plugins


@click.command("plugins")
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
