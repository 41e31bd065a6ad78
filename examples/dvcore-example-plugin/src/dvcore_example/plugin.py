"""Registers the example components with dvcore (entry point ``example`` of the group ``dvcore``)."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_example.data import build_drift
from dvcore_example.metric import build_mae
from dvcore_example.model import build_convnet
from dvcore_example.options import ConvNetOptions, DriftOptions, ExtrapolateOptions, MAEOptions
from dvcore_example.task import build_extrapolate

# The dvcore plugin API this plugin is written for (dvcore.api.PLUGIN_API_VERSION).
DVCORE_PLUGIN_API = "1"


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    """Called once when dvcore loads its plugins."""
    registrar.add("backbone", "example_convnet", build_convnet, ConvNetOptions)
    registrar.add("dataset", "example_drift", build_drift, DriftOptions)
    registrar.add("metric", "example_mae", build_mae, MAEOptions)
    registrar.add("task", "example_extrapolate", build_extrapolate, ExtrapolateOptions)
