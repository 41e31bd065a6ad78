"""Contracts of the predictors: backbones (``forward(x, t)``) and non-learned baselines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    pass

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# backbone
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Backbone(Protocol):
    """A network that maps a batch and its timesteps to an output image (an ``nn.Module``).

    ``forward(x, t)``: ``x`` is float [B, C_in, H, W]; ``t`` is float [B], the timestep of
    each sample in training-step units (0 .. T-1, fractional for some samplers). Regression
    tasks pass ``t = 0`` for every sample, so a backbone must work (and may ignore t)
    then. Returns [B, C_out, H, W] with the input's H, W and dtype (or 2 C_out channels
    when the backbone also predicts a variance, e.g. a ``learn_sigma`` option).

    The task decides C_in and C_out from its data and passes them to the factory; the
    backbone never knows which task it serves. Examples: interpolation of N = 5 RGB frames
    by regression: the four context frames concatenated on channels, 12 -> 3; the same
    by diffusion with the noisy middle frame: 15 -> 3; unconditional generation of RGB
    images: 3 -> 3.

    A backbone whose blocks can recompute activations in backward exposes a
    ``grad_checkpointing`` attribute on those modules (``train.grad_checkpointing``).
    """

    def forward(self, x: Tensor, t: Tensor) -> Tensor: ...

    def __call__(self, x: Tensor, t: Tensor) -> Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


class BackboneFactory(Protocol):
    """``factory(options, *, in_channels, out_channels) -> Backbone``.

    Called under ``torch.device(...)`` (``"meta"`` by ``dvcore validate``): create every
    tensor on the default device. Raise ``ValueError`` when the options cannot build a
    model for these channels.
    """

    def __call__(self, options: Any, *, in_channels: int, out_channels: int) -> Backbone: ...


# ----------------------------------------------------------------------------------------------
# baseline
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Baseline(Protocol):
    """A non-learned predictor scored beside the model: context frames -> the middle frame.

    ``baseline(context)``: ``context`` float [B, N-1, C, H, W] in [0, 1], the clip without
    its middle frame, in time order; returns [B, C, H, W] in [0, 1]. Deterministic; no
    training, no parameters. Scores are reported as ``"<baseline name>/<metric>"``.
    """

    def __call__(self, context: Tensor) -> Tensor: ...


class BaselineFactory(Protocol):
    """``factory(options) -> Baseline``."""

    def __call__(self, options: Any) -> Baseline: ...
