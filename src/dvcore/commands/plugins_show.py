"""`dvcore plugins show KIND NAME`: one component's origin, doc, options (type, default, doc, constraints)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import attrs
import click

from dvcore.errors import RecipeError
from dvcore.options import describe_options
from dvcore.plugins import plugins as loaded_plugins
from dvcore.registry import KINDS, UnknownComponentError, unknown_name_message


def capabilities(component: Any) -> list[str]:
    """The optional task capabilities (``dvcore.tasks.capabilities``) the component's class implements.

    Judged from the class (the factory, or its return annotation) without building anything;
    only tasks have capabilities.
    """
    if component.kind != "task":
        return []
    from dvcore.tasks.capabilities import DESCRIPTIONS

    factory = component.factory
    try:
        cls = (
            factory
            if inspect.isclass(factory)
            else inspect.signature(factory, eval_str=True).return_annotation
        )
    except (NameError, TypeError, ValueError):  # an annotation that cannot be resolved here
        return []
    if not inspect.isclass(cls):
        return []
    return [
        f"{capability.__name__} ({what}: {method})"
        for capability, (method, what) in DESCRIPTIONS.items()
        if callable(getattr(cls, method, None))
    ]


def _problems_doc(options: type) -> str | None:
    method = getattr(options, "problems", None)
    if method is None:
        return None
    doc = (method.__doc__ or "").strip().splitlines()
    return doc[0] if doc else "yes"


@click.command("show")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(kind: str, name: str, as_json: bool) -> None:
    """Details of one component: origin, doc, every option (type, default, doc, constraints), capabilities."""
    registry = loaded_plugins().registry
    try:
        component = registry.get(kind, name)
    except UnknownComponentError:
        raise RecipeError(
            [unknown_name_message(kind, name, registry.names(kind))], f"{kind} {name!r}"
        ) from None
    options = describe_options(component.options) if attrs.has(component.options) else []
    facts = {
        "kind": component.kind,
        "name": component.name,
        "origin": component.origin,
        "version": component.version,
        "doc": component.doc,
        "options_class": f"{component.options.__module__}.{component.options.__qualname__}",
        "options": options,
        "cross_field_checks": _problems_doc(component.options),
        "capabilities": capabilities(component),
    }
    if as_json:
        click.echo(json.dumps(facts, indent=2, default=str))
        return
    click.echo(f"{kind} {component.name}: {component.doc}")
    click.echo(f"from {component.origin} {component.version}; options {facts['options_class']}")
    for o in options:  # plain lines: readable in a narrow terminal and in a pipe
        kind_of = "choice" if o["type"].startswith("Literal") else o["type"]
        constraints = f"; {', '.join(o['constraints'])}" if o["constraints"] else ""
        click.echo(f"  {o['name']}: {kind_of} = {o['default']!r}{constraints}")
        click.echo(f"      {o['doc']}")
    if not options:
        click.echo("  (no options)")
    if facts["cross_field_checks"]:
        click.echo(f"cross-field checks: {facts['cross_field_checks']}")
    if kind == "task":
        click.echo(
            "capabilities: "
            + (", ".join(facts["capabilities"]) or "none (dvcore sample/movie/eval refuse it)")
        )
