"""Checks by registered name: ``check_component(kind, name)`` and the kit's registry with ``kit_tiny``."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from dvcore.registry import Registry
from dvcore.testing.backbones import check_backbone
from dvcore.testing.baselines import check_baseline
from dvcore.testing.datasets import check_dataset
from dvcore.testing.losses import check_loss
from dvcore.testing.metrics import check_metric
from dvcore.testing.samplers import check_sampler
from dvcore.testing.schedules import check_schedule
from dvcore.testing.tiny_backbone import TinyBackbone
from dvcore.testing.trackers import check_tracker


def _register_kit_backbone(registrar: Any) -> None:
    registrar.add(
        "backbone",
        "kit_tiny",
        lambda options, *, in_channels, out_channels: TinyBackbone(in_channels, out_channels),
        doc="the conformance kit's tiny conditional conv net",
    )


def kit_registry() -> Registry:
    """The installed components plus the kit's backbone ``kit_tiny`` (``TinyBackbone``).

    For tests of a task, dataset or metric that need some backbone in a recipe without
    depending on a backbone plugin: ``check_task(recipe, registry=kit_registry())`` with
    ``[model] name = "kit_tiny"``.
    """
    from dvcore.hookspecs import hookimpl
    from dvcore.plugins import load

    module = types.ModuleType("dvcore_testing_kit")
    module.dvcore_register_components = hookimpl(_register_kit_backbone)  # type: ignore[attr-defined]
    return load(strict=False, extra_plugins={"dvcore.testing": module}).registry


_CHECKS: dict[str, Callable[..., None]] = {
    "backbone": check_backbone,
    "dataset": check_dataset,
    "metric": check_metric,
    "loss": check_loss,
    "schedule": check_schedule,
    "sampler": check_sampler,
    "tracker": check_tracker,
    "baseline": check_baseline,
}


def check_component(
    kind: str, name: str, options: Any = None, *, registry: Registry | None = None, **kwargs: Any
) -> None:
    """Run ``check_<kind>`` on a registered component (its registration included); ``kwargs`` go to the check.

    ``options`` defaults to the component's options class (its defaults). Tasks need a
    recipe: use ``check_task``.
    """
    if registry is None:
        from dvcore.plugins import registry as installed

        registry = installed()
    if kind not in _CHECKS:
        raise ValueError(f"expected a kind among {', '.join(_CHECKS)} (tasks: check_task), got {kind!r}")
    component = registry.get(kind, name)
    _CHECKS[kind](component.factory, component.options if options is None else options, **kwargs)
