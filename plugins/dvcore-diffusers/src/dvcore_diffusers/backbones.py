"""diffusers' UNet2DModel and DiTTransformer2DModel behind dvcore's backbone contract.

dvcore calls ``model(x, t)`` with x (B, C_in, H, W) and float training-step timesteps t (B,);
diffusers' models take the same two (plus class labels for DiT) and return an output object.
The wrapper keeps the diffusers model untouched as ``.net``: its state dict is the diffusers
one under the prefix ``net.``, so exporting is ``net.save_pretrained``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import DiTTransformer2DModel, ModelMixin, UNet2DModel
from torch import nn

from dvcore.api import RecipeError
from dvcore_diffusers.options import DiTOptions, UNet2DOptions

Tensor = torch.Tensor


class DiffusersBackbone(nn.Module):
    """A diffusers model as a dvcore backbone; ``net`` is the diffusers model itself."""

    def __init__(self, net: ModelMixin):
        super().__init__()
        self.net = net

    @property
    def grad_checkpointing(self) -> bool:
        """dvcore's activation-checkpointing switch (train.grad_checkpointing), mapped to diffusers'."""
        return bool(getattr(self.net, "gradient_checkpointing", False))

    @grad_checkpointing.setter
    def grad_checkpointing(self, value: bool) -> None:
        if value:
            self.net.enable_gradient_checkpointing()
        else:
            self.net.disable_gradient_checkpointing()


class DiffusersUNet2D(DiffusersBackbone):
    """UNet2DModel(x, t) -> the prediction."""

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.net(x, t).sample  # (B, C_out, H, W)


class DiffusersDiT(DiffusersBackbone):
    """DiTTransformer2DModel(x, t, the null class label) -> the prediction."""

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        null = self.net.config.num_embeds_ada_norm  # the unconditional (classifier-free) label
        labels = torch.full((x.shape[0],), null, dtype=torch.long, device=x.device)  # (B,)
        return self.net(x, t, class_labels=labels).sample  # (B, C_out, H, W)


# ----------------------------------------------------------------------------------------------
# Factories
# ----------------------------------------------------------------------------------------------


def _building_on_meta() -> bool:
    """dvcore validates recipes by building under torch.device('meta'): read no weights then."""
    return torch.get_default_device().type == "meta"


def _load(cls: type[ModelMixin], path: str, subfolder: str) -> ModelMixin:
    """A local save_pretrained directory (the model's own, or a pipeline's with ``subfolder``)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise RecipeError([f"model.pretrained: path does not exist: {path!r}"])
    sub = subfolder if not (root / "config.json").is_file() and (root / subfolder).is_dir() else None
    if _building_on_meta():
        return cls.from_config(cls.load_config(root, subfolder=sub, local_files_only=True))
    try:
        return cls.from_pretrained(root, subfolder=sub, local_files_only=True, low_cpu_mem_usage=False)
    except (OSError, ValueError) as exc:
        raise RecipeError([f"model.pretrained: cannot load {path!r}: {exc}".splitlines()[0]]) from None


def _check_channels(net: ModelMixin, in_channels: int, out_channels: int, path: str) -> None:
    config: Any = net.config
    have = (config.in_channels, config.out_channels or config.in_channels)
    if have != (in_channels, out_channels):
        raise RecipeError(
            [
                f"model.pretrained: {path!r} has (in, out) channels {have}; "
                f"the task needs {(in_channels, out_channels)}"
            ]
        )


def _network(cls: Any, options: Any, in_channels: int, out_channels: int, subfolder: str) -> Any:
    """A diffusers model: loaded from ``options.pretrained`` (channels checked), else new from the options."""
    if options.pretrained is None:
        return cls(in_channels=in_channels, out_channels=out_channels, **options.config())
    net = _load(cls, options.pretrained, subfolder)
    _check_channels(net, in_channels, out_channels, options.pretrained)
    return net


def build_unet2d(options: UNet2DOptions, *, in_channels: int, out_channels: int) -> DiffusersUNet2D:
    """diffusers' UNet2DModel, new from the options or loaded from ``pretrained``."""
    return DiffusersUNet2D(_network(UNet2DModel, options, in_channels, out_channels, "unet"))


def build_dit(options: DiTOptions, *, in_channels: int, out_channels: int) -> DiffusersDiT:
    """diffusers' DiTTransformer2DModel, unconditional, new from the options or loaded from ``pretrained``."""
    return DiffusersDiT(_network(DiTTransformer2DModel, options, in_channels, out_channels, "transformer"))
