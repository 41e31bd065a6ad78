"""Exponential moving average of model weights (the weights used for eval and sampling)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``model``'s EMA in a frozen copy of the module.

    decay at update n: ``min(decay, (1 + n) / (10 + n))`` with warmup (the schedule of
    Tensorflow's ExponentialMovingAverage with num_updates), plain ``decay`` without.
    Buffers (e.g. norm statistics) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.num_updates = 0
        # Walking a deep module tree (model.parameters()) costs more than the update itself on small
        # models (~1 ms per walk for a diffusers UNet): the tensor lists are collected once.
        self._params: list[torch.Tensor] = list(self.module.parameters())
        self._buffers: list[torch.Tensor] = list(self.module.buffers())
        self._source: tuple[nn.Module, list[torch.Tensor], list[torch.Tensor]] | None = None

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    def _tensors_of(self, model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The model's parameters and buffers, collected on the first update (module.to() keeps them)."""
        if self._source is None or self._source[0] is not model:
            params: list[torch.Tensor] = list(model.parameters())
            buffers: list[torch.Tensor] = list(model.buffers())
            if len(params) != len(self._params) or len(buffers) != len(self._buffers):
                raise ValueError(
                    f"EMA holds {len(self._params)} parameters and {len(self._buffers)} buffers, "
                    f"the model has {len(params)} and {len(buffers)}"
                )
            self._source = (model, params, buffers)
        return self._source[1], self._source[2]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        params, buffers = self._tensors_of(model)
        # One foreach op over all tensors instead of one op per parameter (benchmarks/results/vs_diffusers.md)
        torch._foreach_lerp_(self._params, params, 1 - d)  # ema = d * ema + (1 - d) * p
        for ema_b, b in zip(self._buffers, buffers, strict=True):
            ema_b.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        self.module.load_state_dict(state)
        self.num_updates = num_updates
