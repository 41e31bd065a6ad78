"""The conformance kit: the contract of each component kind, as checks a plugin's tests call.

    from dvcore.testing import check_backbone, check_metric

Every shipped component passes these checks; see ``dvcore.testing.checks`` for what
each one verifies and docs/plugins.md for how to use them.
"""

from dvcore.testing.checks import (
    ConformanceError,
    TinyBackbone,
    check_backbone,
    check_baseline,
    check_component,
    check_dataset,
    check_loss,
    check_metric,
    check_options,
    check_sampler,
    check_schedule,
    check_task,
    check_tracker,
    kit_registry,
    point_mass_denoiser,
)

__all__ = [
    "ConformanceError",
    "TinyBackbone",
    "check_backbone",
    "check_baseline",
    "check_component",
    "check_dataset",
    "check_loss",
    "check_metric",
    "check_options",
    "check_sampler",
    "check_schedule",
    "check_task",
    "check_tracker",
    "kit_registry",
    "point_mass_denoiser",
]
