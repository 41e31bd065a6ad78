"""Options of the ``dit`` backbone: a size preset x patch, or explicit dimensions.

How the dimensions resolve: ``size`` picks (depth, hidden_size, num_heads) from the paper's
table; any of ``depth``, ``hidden_size``, ``num_heads`` set explicitly overrides that one value
(``size = "S", depth = 6`` is a half-depth DiT-S). ``size = "custom"`` has no preset, so it
requires all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import attrs

from dvcore.api import ge, gt, lt, opt
from dvcore.nn import TransformerDims
from dvcore_dit.model import DIT_SIZES

SIZES = (*DIT_SIZES, "custom")
PATCHES = (2, 4, 8)
DIMENSIONS = ("depth", "hidden_size", "num_heads")


def one_of(choices: Iterable[Any]) -> Any:
    """Validator: the value is one of ``choices`` (same type, so True is not 1)."""
    choices = tuple(choices)

    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not any(value == c and type(value) is type(c) for c in choices):
            raise ValueError(f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")

    return check


@attrs.frozen
class DitOptions:
    """DiT backbone (Peebles & Xie 2023), unconditional: adaLN-Zero on the timestep only."""

    size: Literal["S", "B", "L", "XL", "custom"] = opt(
        "B",
        "preset (depth, width, heads): S (12, 384, 6), B (12, 768, 12), L (24, 1024, 16), "
        "XL (28, 1152, 16); custom = set depth, hidden_size, num_heads",
        one_of(SIZES),
    )
    patch: Literal[2, 4, 8] = opt(4, "patch side in pixels; H and W must be multiples of it", one_of(PATCHES))
    hidden_size: int | None = opt(None, "token width; unset = from size", gt(0))
    depth: int | None = opt(None, "number of DiT blocks; unset = from size", gt(0))
    num_heads: int | None = opt(None, "attention heads, must divide hidden_size; unset = from size", gt(0))
    mlp_ratio: float = opt(4.0, "MLP width as a multiple of hidden_size", gt(0))
    learn_sigma: bool = opt(
        False,
        "also output Improved-DDPM variance values: the model returns 2*out_channels "
        "(prediction, then variance); only for a loss/sampler that splits them",
    )
    dropout: float = opt(0.0, "dropout after the attention projection and in the MLP", ge(0), lt(1))
    attn_dropout: float = opt(0.0, "dropout on the attention weights (SDPA dropout_p)", ge(0), lt(1))
    grad_checkpointing: bool = opt(
        False,
        "keep only block inputs, recompute the rest in backward: less memory, ~+20-40% time",
    )

    @property
    def dims(self) -> TransformerDims:
        """(depth, width = hidden_size, heads = num_heads): the preset, overridden by any explicit value."""
        preset = DIT_SIZES.get(self.size, (None, None, None))
        explicit = (self.depth, self.hidden_size, self.num_heads)
        resolved = [e if e is not None else p for e, p in zip(explicit, preset, strict=True)]
        if any(v is None for v in resolved):
            raise ValueError(f"size = 'custom' needs {', '.join(DIMENSIONS)} set")
        return TransformerDims(*resolved)  # type: ignore[arg-type]

    @property
    def variant(self) -> str:
        """The paper's name for this configuration, e.g. 'DiT-B/4' ('DiT-custom/4' otherwise)."""
        preset = DIT_SIZES.get(self.size)
        same = preset is not None and self.dims == preset
        return f"DiT-{self.size if same else 'custom'}/{self.patch}"

    def problems(self) -> Iterator[tuple[str, str]]:
        """Checks across fields: custom needs all dimensions; heads divide the width; width % 4 == 0."""
        if self.size == "custom":
            missing = [name for name in DIMENSIONS if getattr(self, name) is None]
            for name in missing:
                yield name, "expected an int when size = 'custom', got nothing"
            if missing:
                return
        if self.size not in SIZES:
            return  # reported by the field's own check
        _, hidden, heads = self.dims
        if not (isinstance(hidden, int) and isinstance(heads, int) and hidden > 0 and heads > 0):
            return  # reported by the fields' own checks
        if hidden % heads:
            if self.hidden_size is not None:
                yield "hidden_size", f"expected a multiple of num_heads ({heads}), got {hidden}"
            else:
                yield (
                    "num_heads",
                    f"expected a divisor of hidden_size ({hidden}, from size {self.size!r}), got {heads}",
                )
        if hidden % 4:
            yield (
                "hidden_size",
                "expected a multiple of 4 (2D sin-cos positions give sin and cos of each axis a quarter), "
                f"got {hidden}",
            )
