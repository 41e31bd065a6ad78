"""The public surface for plugin authors: import from here, and only from here.

Everything a plugin needs is re-exported by this module; the rest of ``dvcore`` is
internal and may change between releases. The guide is ``docs/plugins.md``; the
contract of each kind is in ``dvcore.protocols`` (re-exported below); the executable
contracts are ``dvcore.testing`` (``check_backbone(factory, options)`` ...).

    from dvcore.api import hookimpl, opt, gt, Registrar

    @hookimpl
    def dvcore_register_components(registrar: Registrar) -> None:
        registrar.add("backbone", "my_net", build_my_net, MyNetOptions)

``PLUGIN_API_VERSION`` is the version of this surface. It changes (to the next integer)
only when something here changes incompatibly; a plugin states the version it targets
(``DVCORE_PLUGIN_API`` in its entry-point module, see docs/plugins.md) and is reported as
incompatible, instead of failing later, when the installed dvcore serves another one.
"""

from __future__ import annotations

from dvcore.baselines.flow import FlowInterpolation, FlowOptions, backward_warp, intermediate_flows
from dvcore.baselines.flow import interpolate as flow_interpolate
from dvcore.diffusion.samplers.base import (
    Denoiser,
    Grid,
    Prediction,
    SampleResult,
    TrajectoryStep,
    clip_sample_field,
    clip_sample_range_field,
    thresholding_field,
    thresholding_max_field,
    thresholding_ratio_field,
)
from dvcore.diffusion.samplers.base import Sampler as SamplerBase
from dvcore.diffusion.schedules import BetaRangeOptions, ScheduleOptions
from dvcore.diffusion.schedules import Schedule as BetaSchedule
from dvcore.diffusion.spacing import spaced_timesteps
from dvcore.errors import RecipeError
from dvcore.export import Exporter, ExportSource
from dvcore.hookspecs import hookimpl
from dvcore.metrics import MeanMetric
from dvcore.metrics import Metric as MetricBase
from dvcore.nn import (
    Attention,
    AttentionBlock,
    Downsample,
    Mlp,
    ResBlock,
    ResStack,
    ResStackOptions,
    TimestepEmbedder,
    TransformerBlock,
    TransformerDims,
    Upsample,
    check_halvable,
    dropout,
    group_norm,
    sincos_1d,
    sincos_2d,
    timestep_embedding,
    zero_residual_branches,
)
from dvcore.options import doc_of, each, existing_path, ge, gt, le, lt, odd, opt, raise_problems
from dvcore.protocols import (
    Backbone,
    BackboneFactory,
    Baseline,
    BaselineFactory,
    Dataset,
    DatasetFactory,
    DiffusionLoss,
    Loss,
    LossFactory,
    Metric,
    MetricFactory,
    RegressionLoss,
    Sampler,
    SamplerFactory,
    Schedule,
    ScheduleFactory,
    Task,
    TaskFactory,
    Tracker,
    TrackerFactory,
)
from dvcore.registry import KINDS, NoOptions, Registrar
from dvcore.tasks.base import EvalResult
from dvcore.tasks.base import Task as TaskBase
from dvcore.tasks.capabilities import EvaluatesRuns, LossPerTimestep, MakesMovieFrames, SamplesImages
from dvcore.track.base import RunInfo
from dvcore.track.base import Tracker as TrackerBase

PLUGIN_API_VERSION = "1"
"""The version of this surface; a plugin declares the one it targets."""

__all__ = [
    "KINDS",
    "PLUGIN_API_VERSION",
    "Attention",
    "AttentionBlock",
    "Backbone",
    "BackboneFactory",
    "Baseline",
    "BaselineFactory",
    "BetaRangeOptions",
    "BetaSchedule",
    "Dataset",
    "DatasetFactory",
    "Denoiser",
    "DiffusionLoss",
    "Downsample",
    "EvalResult",
    "EvaluatesRuns",
    "ExportSource",
    "Exporter",
    "FlowInterpolation",
    "FlowOptions",
    "Grid",
    "Loss",
    "LossFactory",
    "LossPerTimestep",
    "MakesMovieFrames",
    "MeanMetric",
    "Metric",
    "MetricBase",
    "MetricFactory",
    "Mlp",
    "NoOptions",
    "Prediction",
    "RecipeError",
    "Registrar",
    "RegressionLoss",
    "ResBlock",
    "ResStack",
    "ResStackOptions",
    "RunInfo",
    "SampleResult",
    "Sampler",
    "SamplerBase",
    "SamplerFactory",
    "SamplesImages",
    "Schedule",
    "ScheduleFactory",
    "ScheduleOptions",
    "Task",
    "TaskBase",
    "TaskFactory",
    "TimestepEmbedder",
    "Tracker",
    "TrackerBase",
    "TrackerFactory",
    "TrajectoryStep",
    "TransformerBlock",
    "TransformerDims",
    "Upsample",
    "backward_warp",
    "check_halvable",
    "clip_sample_field",
    "clip_sample_range_field",
    "doc_of",
    "dropout",
    "each",
    "existing_path",
    "flow_interpolate",
    "ge",
    "group_norm",
    "gt",
    "hookimpl",
    "intermediate_flows",
    "le",
    "lt",
    "odd",
    "opt",
    "raise_problems",
    "sincos_1d",
    "sincos_2d",
    "spaced_timesteps",
    "thresholding_field",
    "thresholding_max_field",
    "thresholding_ratio_field",
    "timestep_embedding",
    "zero_residual_branches",
]
