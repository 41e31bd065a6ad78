"""The contract of every component kind, as ``typing.Protocol`` classes.

A plugin registers components with ``registrar.add(kind, name, factory, options)``.
The registry structures the recipe section that names the component into ``options``
(a frozen attrs class whose fields are declared with ``dvcore.api.opt``) and calls
``factory(options, **context)``; the context depends on the kind and is given by a
``...Factory`` protocol below. What the factory returns must meet the kind's protocol.

Rules that hold for every kind:

- **Options.** Every field is declared with ``opt(default, doc, *validators)``; the doc is
  what ``dvcore plugins`` prints. A validator is ``check(instance, attribute, value)`` and
  raises ``ValueError`` with a message *without* the field name ("expected > 0, got -1"):
  the recipe loader prefixes the TOML path (``model.width: expected > 0, got -1``). Checks
  spanning several fields go in an optional ``problems(self)`` method yielding
  ``(field, message)`` pairs; it must never raise. Validators are skipped for ``None``.
- **Validation builds on the meta device.** ``dvcore validate`` calls backbone factories
  under ``torch.device("meta")`` and runs ``forward`` on meta tensors, so a factory must
  not read weights or touch data, and must create tensors on the current default device
  (no ``device="cpu"`` literals). Raise ``ValueError`` for options that cannot work together.
- **Determinism.** Anything random takes its randomness from the arguments it is given
  (a ``seed``, a ``torch.Generator``) or from torch's global RNG, which the run seeds;
  the same seed gives the same result.
- **State.** Learnable state lives in ``nn.Module`` parameters and buffers and is saved as
  safetensors; other state (``state_dict()``) must be JSON-able.

The executable version of these contracts is ``dvcore.testing`` (``check_backbone`` ...):
run it in your plugin's tests. The guide with a complete example per kind is
``docs/plugins.md``.
"""

from dvcore.protocols.data import Dataset, DatasetFactory, Metric, MetricFactory
from dvcore.protocols.diffusion import (
    DiffusionLoss,
    Loss,
    LossFactory,
    RegressionLoss,
    Sampler,
    SamplerFactory,
    Schedule,
    ScheduleFactory,
)
from dvcore.protocols.networks import Backbone, BackboneFactory, Baseline, BaselineFactory
from dvcore.protocols.runs import Task, TaskFactory, Tracker, TrackerFactory

__all__ = [
    "Backbone",
    "BackboneFactory",
    "Baseline",
    "BaselineFactory",
    "Dataset",
    "DatasetFactory",
    "DiffusionLoss",
    "Loss",
    "LossFactory",
    "Metric",
    "MetricFactory",
    "RegressionLoss",
    "Sampler",
    "SamplerFactory",
    "Schedule",
    "ScheduleFactory",
    "Task",
    "TaskFactory",
    "Tracker",
    "TrackerFactory",
]
