"""Train-only augmentations, seeded per sample: random crop, flips, temporal reversal.

Randomness. Datasets are map-style and read by several threads in any order, so
no generator state is shared: each sample draws from its own numpy ``Generator``
seeded by a hash of (seed, split, epoch, index). The same sample therefore gets
the same crop on every read in an epoch (and after a resume), and a different one
in the next epoch, provided the dataset is told the epoch (``set_epoch``; it
starts at 0 and stays there otherwise, which is still deterministic but repeats
each sample's augmentation every epoch). Every sample makes the same draws
whether or not an augmentation is on, so turning on one does not change another.

All frames of a clip get the same crop and flips; the eval split is never
augmented (it is scored at full frame size).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

from dvcore.errors import RecipeError
from dvcore.options import each, gt, opt
from dvcore.seeding import seed_from


def crop_field() -> Any:
    return opt(
        None,
        "train only: random crop [height, width] (the same window in every frame); unset = whole frame",
        each(gt(0)),
    )


def hflip_field() -> Any:
    return opt(False, "train only: flip left-right with probability 1/2")


def vflip_field() -> Any:
    return opt(False, "train only: flip upside-down with probability 1/2")


def time_reverse_field() -> Any:
    return opt(False, "train only: reverse the frame order with probability 1/2 (the middle stays middle)")


def resize_field() -> Any:
    return opt(
        None,
        "resize every frame to [height, width] (both splits, before cropping); unset = as stored",
        each(gt(0)),
    )


def pair_problems(name: str, value: list[int] | None) -> Iterable[tuple[str, str]]:
    """A [height, width] option has two entries."""
    if value is not None and len(value) != 2:
        yield name, f"expected [height, width], got {value!r}"


def resize_crop_problems(resize: list[int] | None, crop: list[int] | None) -> Iterable[tuple[str, str]]:
    """Both options are [height, width] pairs, and the crop fits inside the resize."""
    yield from pair_problems("resize", resize)
    yield from pair_problems("crop", crop)
    if resize is None or crop is None or not len(resize) == len(crop) == 2:
        return
    if crop[0] > resize[0] or crop[1] > resize[1]:
        yield "crop", f"expected at most the resize {resize!r}, got {crop!r}"


def sample_generator(seed: int, split: str, epoch: int, index: int) -> np.random.Generator:
    """A generator that is a pure function of (seed, split, epoch, index)."""
    return np.random.default_rng(seed_from("augment", split, seed, epoch, index, bits=64))


@attrs.frozen
class Augment:
    """The augmentations of one dataset; ``__call__`` applies them to a clip (N, C, H, W) or image (C, H, W).

    The array comes back as a view (crops and flips are strided views of the input).
    """

    crop: tuple[int, int] | None = None
    hflip: bool = False
    vflip: bool = False
    time_reverse: bool = False

    @classmethod
    def from_options(cls, options: Any) -> Augment:
        crop = getattr(options, "crop", None)
        return cls(
            crop=tuple(crop) if crop else None,
            hflip=getattr(options, "hflip", False),
            vflip=getattr(options, "vflip", False),
            time_reverse=getattr(options, "time_reverse", False),
        )

    @property
    def enabled(self) -> bool:
        return self.crop is not None or self.hflip or self.vflip or self.time_reverse

    def __call__(self, x: np.ndarray, g: np.random.Generator, *, clip: bool = True) -> np.ndarray:
        u = g.random(5)  # crop y, crop x, hflip, vflip, reverse: always all five
        if self.crop is not None:
            height, width = x.shape[-2:]
            ch, cw = self.crop
            if ch > height or cw > width:
                # a recipe problem, found on the first read (which `dvcore validate` does)
                raise RecipeError(
                    [f"data.crop: expected at most the frame size {[height, width]}, got {[ch, cw]}"]
                )
            top, left = int(u[0] * (height - ch + 1)), int(u[1] * (width - cw + 1))
            x = x[..., top : top + ch, left : left + cw]
        if self.hflip and u[2] < 0.5:
            x = x[..., ::-1]
        if self.vflip and u[3] < 0.5:
            x = x[..., ::-1, :]
        if clip and self.time_reverse and u[4] < 0.5:
            x = x[::-1]  # (N, C, H, W) frames in reverse order
        return x
