"""Reading files that may be corrupt: skip them, say so once, count them.

A real dataset of tens of thousands of files holds a few that are truncated,
half-written or not images at all. Failing a week-long run on one of them is
worse than losing one sample, so every file-backed dataset here reads through
``SkippingDataset``: item i is the first readable sample among i, i+1, i+2, ...
(wrapping around), which is a pure function of the files on disk, so the stream
stays deterministic and resumable. Each unreadable file is logged once to stderr
and remembered, so it is neither read nor logged again; ``num_corrupt`` and
``corrupt_files`` give what the run summary reports.

Decoding lives here too, since it is where corruption shows: images are decoded
with PIL to uint8 RGB (channel order R, G, B whatever the file holds: greyscale,
palette, RGBA and CMYK are converted) and stay uint8 numpy arrays through stacking,
cropping and flipping (views: no copies), to become float32 in [0, 1] last, on the
cropped pixels only. Numpy rather than torch on purpose: the decode threads run
many tiny ops, and torch would spread each one over its intra-op thread pool; on a
busy 2-core machine that made a uint8 -> float conversion of one clip 20x slower
(14 ms vs 0.6 ms), while numpy runs each op in the calling thread.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")


class CorruptFileError(Exception):
    """A file that could not be read or decoded."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class CorruptFiles:
    """The unreadable files met so far: each logged once to stderr; thread-safe."""

    def __init__(self, label: str = "data"):
        self.label = label
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, path: str, reason: str) -> None:
        with self._lock:
            if path in self._reasons:
                return
            self._reasons[path] = reason
        print(f"dvcore: warning: {self.label}: skipping unreadable file {path}: {reason}", file=sys.stderr)

    def __contains__(self, path: object) -> bool:
        return path in self._reasons

    def __len__(self) -> int:
        return len(self._reasons)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._reasons))


# ----------------------------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------------------------


Box = tuple[float, float, float, float]  # (left, top, right, bottom) in pixels


def read_image(
    path: str | Path,
    resize: tuple[int, int] | None = None,
    box: Callable[[int, int], Box] | None = None,
) -> np.ndarray:
    """Decode an image file to a uint8 RGB array (3, H, W), optionally resized to (height, width).

    ``box(width, height)`` picks the region that is resized (default: the whole image).
    Raises ``CorruptFileError`` for anything that goes wrong while reading or decoding.
    """
    try:
        with Image.open(path) as img:
            if resize is None:
                rgb = img.convert("RGB")
            else:
                height, width = resize
                region = (
                    box(img.width, img.height) if box else (0.0, 0.0, float(img.width), float(img.height))
                )
                # A JPEG much larger than the target decodes at 1/2, 1/4 or 1/8 scale (DCT scaling: fast)
                scale = min((region[2] - region[0]) / width, (region[3] - region[1]) / height)
                if img.format == "JPEG" and scale >= 2:
                    full = img.size
                    img.draft("RGB", (int(img.width / scale) + 1, int(img.height / scale) + 1))
                    sx, sy = img.width / full[0], img.height / full[1]
                    region = (region[0] * sx, region[1] * sy, region[2] * sx, region[3] * sy)
                rgb = img.convert("RGB").resize((width, height), Image.Resampling.BICUBIC, box=region)
            array = np.asarray(rgb)  # (H, W, 3) uint8
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error, ...
        raise CorruptFileError(path, describe(exc)) from exc
    return array.transpose(2, 0, 1)  # (3, H, W) uint8, a view


def describe(exc: BaseException) -> str:
    """A short reason: "No such file or directory" rather than the path again."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def stack_frames(frames: list[np.ndarray], folder: str | Path) -> np.ndarray:
    """(3, H, W) x N -> (N, 3, H, W); frames of different sizes make the clip unreadable."""
    sizes = {tuple(f.shape) for f in frames}
    if len(sizes) != 1:
        raise CorruptFileError(folder, f"frames of different sizes {sorted(sizes)}; set resize")
    return np.stack(frames)


def to_unit_float(x: np.ndarray) -> torch.Tensor:
    """uint8 array (any strides: crops and flips are views) -> contiguous float32 tensor in [0, 1]."""
    out = x.astype(np.float32, order="C")
    out /= 255.0
    return torch.from_numpy(out)


def natural_key(text: str) -> list[Any]:
    """Sort key that orders frame_2 before frame_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# ----------------------------------------------------------------------------------------------
# The skipping dataset
# ----------------------------------------------------------------------------------------------


class SkippingDataset(Sequence[dict[str, torch.Tensor]]):
    """A map-style dataset whose item i is the first readable sample at i, i+1, ... (wrapping).

    Subclasses implement ``__len__`` and ``load(index, requested)``, which raises
    ``CorruptFileError`` for an unreadable file; ``requested`` is the index asked for,
    which seeds the augmentation, so a skipped sample does not repeat its neighbour's.
    """

    def __init__(self, label: str, seed: int):
        self.corrupt = CorruptFiles(label)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Train augmentations are drawn from (seed, epoch, index): call once per epoch."""
        self.epoch = epoch

    @property
    def num_corrupt(self) -> int:
        """Unreadable files skipped so far."""
        return len(self.corrupt)

    @property
    def corrupt_files(self) -> list[str]:
        """Their paths, sorted."""
        return list(self.corrupt)

    def check_readable(self, path: str) -> None:
        """Fail fast on a file already known to be unreadable."""
        if path in self.corrupt:
            raise CorruptFileError(path, "unreadable (seen before)")

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        if not isinstance(index, int):
            raise TypeError(f"expected an int index, got {type(index).__name__}")
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        last: CorruptFileError | None = None
        for step in range(n):
            try:
                return self.load((index + step) % n, index)
            except CorruptFileError as exc:
                self.corrupt.add(exc.path, exc.reason)
                last = exc
        raise RuntimeError(f"{self.corrupt.label}: every one of the {n} samples is unreadable; last: {last}")
