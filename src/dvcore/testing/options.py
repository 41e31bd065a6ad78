"""The options contract: attrs, frozen, a doc per field, validators and ``problems()`` that behave."""

from __future__ import annotations

import math
import types
import typing
from typing import Any

import attrs

from dvcore.registry import NoOptions
from dvcore.testing.report import Failed, Report, expect


def check_options(options: Any) -> None:
    """The options contract alone: ``options`` is an options class or instance."""
    report = Report(f"options {getattr(options, '__name__', type(options).__name__)}")
    check_options_into(options, report)
    report.finish()


def resolve(options: Any, report: Report) -> Any:
    """The options instance a component is built with (``NoOptions()`` for None), checked into ``report``."""
    if options is None:
        return NoOptions()
    return check_options_into(options, report)


def _candidate_values(tp: Any) -> list[Any]:
    """Values of type ``tp`` that validators commonly refuse (negative, zero, huge, empty)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return [v for a in args for v in _candidate_values(a)]
    if tp is bool or origin is typing.Literal:
        return []  # the recipe loader checks these against the type itself
    if tp is int:
        return [-1, 0, 1, 3, -(10**6), 10**6]
    if tp is float:
        return [-1.0, 0.0, 0.5, 1.0, -1e6, 1e6, math.nan]
    if tp is str:
        return ["", "?", "/nonexistent/dvcore-check"]
    if origin in (list, tuple) or tp in (list, tuple):
        return [[], [-1], [0]]
    return []


def check_options_into(options: Any, report: Report) -> Any:
    """Sub-checks of the options class into ``report``; returns an instance (or None when there is none)."""
    cls = options if isinstance(options, type) else type(options)
    instance = None
    with report.check("options are an attrs class"):
        expect(attrs.has(cls), f"{cls!r} is not an attrs class (decorate it with @attrs.frozen)")
    if not attrs.has(cls):
        return None
    with report.check("options can be built"):
        instance = options() if isinstance(options, type) else options
    if instance is None:
        return None
    with report.check("options are frozen"):
        _expect_frozen(cls, instance)
    with report.check("every option has a doc"):
        undocumented = [f.name for f in attrs.fields(cls) if not f.metadata.get("doc")]
        expect(
            not undocumented,
            f"no doc for {', '.join(undocumented)}: declare fields with opt(default, doc, ...)",
        )
    variants = [instance]
    with report.check("validators raise ValueError without the field name"):
        problems = _probe_validators(cls, instance, variants)
        expect(not problems, "; ".join(problems[:3]))
    with report.check("problems() never raises"):
        method = getattr(instance, "problems", None)
        if method is not None:
            for variant in variants:
                pairs = list(variant.problems())
                bad = [p for p in pairs if not (isinstance(p, tuple) and len(p) == 2)]
                expect(not bad, f"expected (field, message) pairs, got {bad[0]!r}" if bad else "")
    return instance


def _expect_frozen(cls: type, instance: Any) -> None:
    fields = attrs.fields(cls)
    if fields:
        try:
            setattr(instance, fields[0].name, getattr(instance, fields[0].name))
        except attrs.exceptions.FrozenInstanceError:
            pass
        else:
            raise Failed(f"{cls.__name__} is mutable: declare it with @attrs.frozen")


def _probe_validators(cls: type, instance: Any, variants: list[Any]) -> list[str]:
    """Try refusable values on each validated field; the valid ones are appended to ``variants``."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    problems: list[str] = []
    for field in attrs.fields(cls):
        if field.validator is None:
            continue
        for value in _candidate_values(hints.get(field.name, field.type)):
            try:
                variants.append(attrs.evolve(instance, **{field.name: value}))
            except ValueError as exc:
                message = str(exc)
                if not message.strip() or "\n" in message.strip():
                    problems.append(f"{field.name}={value!r}: expected a one-line message, got {message!r}")
                elif message.startswith((field.name, f"'{field.name}'")):
                    problems.append(
                        f"{field.name}={value!r}: message {message!r} starts with the field name "
                        "(the recipe loader adds the TOML path)"
                    )
            except Exception as exc:
                problems.append(f"{field.name}={value!r}: raised {type(exc).__name__}, expected ValueError")
    return problems
