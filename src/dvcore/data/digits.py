"""digits: scikit-learn's 8x8 handwritten digits, a real image dataset that needs no download.

1797 greyscale images of the digits 0-9 (values 0..16), shipped inside scikit-learn
(``sklearn.datasets.load_digits``, the test set of the UCI "optical recognition of handwritten
digits" data). Small enough that a diffusion model learns it on a CPU in minutes, and real
enough that its samples can be judged: a digit is recognizable or it is not.

- Values are divided by 16 into [0, 1] (ink is bright, the background 0).
- Images are upsampled from 8x8 to ``size`` once, at load. ``bilinear`` (the default; half-pixel
  centres, ``align_corners=False``) gives smooth strokes, the kind of image a convolutional
  denoiser models well; ``nearest`` keeps the original 8x8 blocks exactly, which a model must
  then reproduce as sharp 2- or 4-pixel block edges. Bilinear upsampling only interpolates, so
  values stay in [0, 1].
- The split is deterministic and needs no seed: the last ``eval_fraction`` of the images, in
  scikit-learn's order, are the eval split, the rest train (the order is the UCI file's; its
  classes are spread evenly along it, so both splits hold every digit about equally often).
- ``channels = 3`` repeats the grey channel, for backbones or metrics that want RGB.

scikit-learn is imported when the dataset is built, not when dvcore is imported.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from dvcore.errors import RecipeError
from dvcore.options import gt, lt, opt

SPLITS = ("train", "eval")
NUM_IMAGES = 1797  # the size of scikit-learn's digits


@attrs.frozen
class DigitsOptions:
    """scikit-learn's 8x8 handwritten digits, upsampled; no download."""

    size: Literal[8, 16, 32] = opt(16, "image height and width: 8 (as stored), 16 or 32 (upsampled)")
    channels: Literal[1, 3] = opt(1, "1 = greyscale; 3 = the grey channel repeated")
    resize: Literal["bilinear", "nearest"] = opt(
        "bilinear", "upsampling: bilinear (smooth strokes) or nearest (the 8x8 blocks kept)"
    )
    eval_fraction: float = opt(0.1, "the last this fraction of the images is the eval split", gt(0), lt(1))


@functools.cache
def load_raw() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) int64) from scikit-learn; cached."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RecipeError(
            ["data.name: dataset 'digits' needs scikit-learn (pip install 'scikit-learn>=1.3')"]
        ) from None
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # (N, 8, 8) in [0, 1]
    return images, bunch.target.astype(np.int64)


def split_range(options: DigitsOptions, split: str, total: int = NUM_IMAGES) -> range:
    """Indices into scikit-learn's order of one split: eval = the last ceil(fraction * total)."""
    num_eval = math.ceil(options.eval_fraction * total)
    return range(total - num_eval) if split == "train" else range(total - num_eval, total)


def upsample(images: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """(N, C, 8, 8) -> (N, C, size, size), bilinear with half-pixel centres or nearest."""
    if images.shape[-1] == size:
        return images
    if mode == "nearest":
        return F.interpolate(images, size=(size, size), mode="nearest")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


class Digits(Sequence[dict[str, torch.Tensor]]):
    """A map-style split of digits: ``dataset[i] -> {"image": (C, size, size)}`` in [0, 1].

    ``labels`` holds the digit of each image (for analysis; samples carry only the image).
    """

    def __init__(self, options: DigitsOptions, *, split: str):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        self.options, self.split = options, split
        raw, labels = load_raw()
        index = split_range(options, split, len(raw))
        images = torch.from_numpy(raw[index.start : index.stop])[:, None]  # (N, 1, 8, 8)
        images = upsample(images, options.size, options.resize).clamp(0, 1)  # (N, 1, S, S)
        self.images = images.expand(-1, options.channels, -1, -1).contiguous()  # (N, C, S, S)
        self.labels = torch.from_numpy(labels[index.start : index.stop])  # (N,)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        if not isinstance(index, int):
            raise TypeError(f"expected an int index, got {type(index).__name__}")
        return {"image": self.images[index].clone()}  # (C, S, S)


def build_digits(options: DigitsOptions, *, split: str, seed: int) -> Digits:
    """scikit-learn's 8x8 handwritten digits upsampled to 16 or 32 pixels; a fixed split by writer."""
    del seed  # the split is fixed: the last eval_fraction of the images
    return Digits(options, split=split)
