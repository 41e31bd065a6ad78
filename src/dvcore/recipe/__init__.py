"""Recipes: TOML -> overrides -> cattrs -> typed attrs objects, every problem at once.

A recipe is a TOML file. Fixed sections (``train``, ``eval``) are attrs classes; component
sections (``task``, ``data``, ``model``, ``loss``, ``tracker``, ``eval.metrics``) hold
``name = "..."`` and that component's options, which are structured into the component's
own options class from the registry. So the whole recipe is typed, and a bad one is
reported as one line per problem:

    model.depth: expected int, got 'six'
    model.name: unknown backbone 'unte' (did you mean 'unet'?); valid choices: ...

Modules: ``schema`` (the attrs classes), ``converter`` (strict cattrs hooks; to_dict/to_toml),
``validation`` (``structure``: every problem as one line), ``overrides`` (``--set`` and
component switches), ``loading`` (files, ``extends``, ``load``).
"""

from dvcore.errors import RecipeError
from dvcore.recipe.converter import Invalid, make_converter, to_dict, to_toml
from dvcore.recipe.loading import MAX_RECIPE_BYTES, SWEEP, load, parse_toml, read
from dvcore.recipe.overrides import apply_overrides, parse_override, switch_components
from dvcore.recipe.schema import (
    BackboneSection,
    DatasetSection,
    EMAConfig,
    EvalConfig,
    InitConfig,
    LossSection,
    MetricSection,
    Recipe,
    SamplerSection,
    ScheduleSection,
    Section,
    TaskSection,
    TrackerSection,
    TrainConfig,
)
from dvcore.recipe.validation import structure

__all__ = [
    "MAX_RECIPE_BYTES",
    "SWEEP",
    "BackboneSection",
    "DatasetSection",
    "EMAConfig",
    "EvalConfig",
    "InitConfig",
    "Invalid",
    "LossSection",
    "MetricSection",
    "Recipe",
    "RecipeError",
    "SamplerSection",
    "ScheduleSection",
    "Section",
    "TaskSection",
    "TrackerSection",
    "TrainConfig",
    "apply_overrides",
    "load",
    "make_converter",
    "parse_override",
    "parse_toml",
    "read",
    "structure",
    "switch_components",
    "to_dict",
    "to_toml",
]
