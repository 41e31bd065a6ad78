"""Options of the ``diffusers_unet2d`` and ``diffusers_dit`` backbones: diffusers' config keys, typed.

Each field is the diffusers config key of the same name with the same default, so a recipe
section reads like the model's ``config.json`` (``in_channels`` / ``out_channels`` are left
out: the task decides them). ``pretrained = "PATH"`` loads a local ``save_pretrained``
directory instead (the model's own directory, or a pipeline directory with a ``unet/`` or
``transformer/`` subfolder); the architecture then comes from that directory's config and
the other fields are not used. Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from dvcore.api import existing_path, ge, gt, lt, opt

DOWN_BLOCKS = (
    "DownBlock2D",
    "AttnDownBlock2D",
    "ResnetDownsampleBlock2D",
    "SkipDownBlock2D",
    "AttnSkipDownBlock2D",
)
UP_BLOCKS = ("UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "SkipUpBlock2D", "AttnSkipUpBlock2D")
MID_BLOCKS = ("UNetMidBlock2D",)


def one_of(choices: tuple[str, ...]) -> Any:
    """Validator: a string among ``choices``."""

    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")

    return check


def pretrained_problems(path: str | None, subfolder: str) -> Iterator[tuple[str, str]]:
    """A pretrained directory must hold a diffusers config (itself or in ``subfolder``)."""
    if path is None or not Path(path).expanduser().is_dir():
        return
    root = Path(path).expanduser()
    if not (root / "config.json").is_file() and not (root / subfolder / "config.json").is_file():
        yield (
            "pretrained",
            (
                f"expected a diffusers save_pretrained directory (config.json, or {subfolder}/config.json), "
                f"got {path!r}"
            ),
        )


def pretrained_field() -> Any:
    return opt(
        None,
        "a local save_pretrained directory (model or pipeline) to load weights and config from; "
        "never downloaded; unset = a new model from the fields here",
        existing_path,
    )


@attrs.frozen
class UNet2DOptions:
    """diffusers' UNet2DModel (the DDPM / train_unconditional UNet), unconditional."""

    sample_size: int | None = opt(
        None, "image side the model is made for (config only; any size runs)", gt(0)
    )
    block_out_channels: list[int] = opt(
        factory=lambda: [224, 448, 672, 896], doc="channels per resolution level"
    )
    down_block_types: list[str] = opt(
        factory=lambda: ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
        doc=f"one per level: {', '.join(DOWN_BLOCKS)}",
    )
    up_block_types: list[str] = opt(
        factory=lambda: ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        doc=f"one per level, coarse to fine: {', '.join(UP_BLOCKS)}",
    )
    mid_block_type: str | None = opt("UNetMidBlock2D", "middle block; unset = none", one_of(MID_BLOCKS))
    layers_per_block: int = opt(2, "ResNet blocks per level", gt(0))
    attention_head_dim: int | None = opt(8, "channels per attention head; unset = one head", gt(0))
    norm_num_groups: int = opt(32, "GroupNorm groups (divides every block_out_channels)", gt(0))
    attn_norm_num_groups: int | None = opt(
        None, "GroupNorm groups in the mid attention; unset = default", gt(0)
    )
    norm_eps: float = opt(1e-5, "GroupNorm epsilon", gt(0))
    act_fn: Literal["silu", "swish", "mish", "gelu", "relu"] = opt("silu", "activation")
    dropout: float = opt(0.0, "dropout in the ResNet blocks", ge(0), lt(1))
    time_embedding_type: Literal["positional", "fourier", "learned"] = opt(
        "positional", "timestep embedding (learned needs num_train_timesteps)"
    )
    time_embedding_dim: int | None = opt(
        None, "timestep embedding width; unset = 4 x block_out_channels[0]", gt(0)
    )
    flip_sin_to_cos: bool = opt(True, "cos before sin in the positional embedding")
    freq_shift: int = opt(0, "frequency shift of the positional embedding", ge(0))
    center_input_sample: bool = opt(False, "map the input x to 2x - 1 first")
    mid_block_scale_factor: float = opt(1.0, "output scale of the middle block", gt(0))
    downsample_padding: int = opt(1, "padding of the downsampling convs", ge(0))
    downsample_type: Literal["conv", "resnet"] = opt("conv", "how levels downsample")
    upsample_type: Literal["conv", "resnet"] = opt("conv", "how levels upsample")
    resnet_time_scale_shift: Literal["default", "scale_shift"] = opt(
        "default", "how the time embedding enters ResNet blocks (scale_shift = AdaGN)"
    )
    add_attention: bool = opt(True, "attention in the middle block")
    num_train_timesteps: int | None = opt(None, "table size of the learned time embedding", gt(0))
    pretrained: str | None = pretrained_field()

    def problems(self) -> Iterator[tuple[str, str]]:
        levels = len(self.block_out_channels)
        for name in ("down_block_types", "up_block_types"):
            if len(getattr(self, name)) != levels:
                yield (
                    name,
                    f"expected {levels} entries (one per block_out_channels), got {len(getattr(self, name))}",
                )
        for i, name in enumerate(self.down_block_types):
            if name not in DOWN_BLOCKS:
                yield f"down_block_types[{i}]", f"expected one of {', '.join(DOWN_BLOCKS)}, got {name!r}"
        for i, name in enumerate(self.up_block_types):
            if name not in UP_BLOCKS:
                yield f"up_block_types[{i}]", f"expected one of {', '.join(UP_BLOCKS)}, got {name!r}"
        for i, c in enumerate(self.block_out_channels):
            if c <= 0 or c % self.norm_num_groups:
                yield (
                    f"block_out_channels[{i}]",
                    f"expected a positive multiple of norm_num_groups ({self.norm_num_groups}), got {c}",
                )
        if self.time_embedding_type == "learned" and self.num_train_timesteps is None:
            yield "num_train_timesteps", "required with time_embedding_type = 'learned'"
        yield from pretrained_problems(self.pretrained, "unet")

    def config(self) -> dict[str, Any]:
        """The UNet2DModel keyword arguments these options stand for (channels aside)."""
        out = attrs.asdict(self)
        del out["pretrained"]
        for key in ("block_out_channels", "down_block_types", "up_block_types"):
            out[key] = tuple(out[key])
        return out


@attrs.frozen
class DiTOptions:
    """diffusers' DiTTransformer2DModel, unconditional (every sample gets the null class label)."""

    sample_size: int = opt(
        32, "image side the positional table is made for (other sizes are recomputed)", gt(0)
    )
    patch_size: int = opt(2, "patch side in pixels; H and W must be multiples of it", gt(0))
    num_layers: int = opt(28, "transformer blocks", gt(0))
    num_attention_heads: int = opt(16, "attention heads", gt(0))
    attention_head_dim: int = opt(72, "channels per head (width = heads x head dim)", gt(0))
    dropout: float = opt(0.0, "dropout in the blocks", ge(0), lt(1))
    attention_bias: bool = opt(True, "bias in the attention projections")
    activation_fn: Literal["gelu-approximate", "gelu", "geglu"] = opt("gelu-approximate", "MLP activation")
    num_embeds_ada_norm: int = opt(
        1000,
        "class-label table size; the label used here is this index (the null / unconditional one)",
        gt(0),
    )
    upcast_attention: bool = opt(False, "attention in float32 under reduced precision")
    norm_elementwise_affine: bool = opt(False, "affine LayerNorms")
    norm_eps: float = opt(1e-5, "LayerNorm epsilon", gt(0))
    pretrained: str | None = pretrained_field()

    def problems(self) -> Iterator[tuple[str, str]]:
        yield from pretrained_problems(self.pretrained, "transformer")

    def config(self) -> dict[str, Any]:
        """The DiTTransformer2DModel keyword arguments these options stand for (channels aside)."""
        out = attrs.asdict(self)
        del out["pretrained"]
        return out


@attrs.frozen
class DiffusersExportOptions:
    """Writes a diffusers pipeline directory (UNet) or transformer + scheduler (DiT)."""


__all__ = ["DOWN_BLOCKS", "MID_BLOCKS", "UP_BLOCKS", "DiTOptions", "DiffusersExportOptions", "UNet2DOptions"]
