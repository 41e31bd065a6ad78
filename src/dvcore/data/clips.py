"""Shared by the file-backed datasets: sliding windows of N frames, and held-out splits.

``ClipWindows`` numbers every window of ``num_frames`` frames, ``frame_step``
apart, that starts every ``stride`` frames in each of a list of sequences, and
maps a dataset index back to (sequence, frame indices) by bisection.

``hold_out`` splits a list of files or folders into train and eval by a hash of
their names relative to the root: deterministic, independent of the run seed (so
eval scores compare across seeds), of the order of the listing and of where the
root is mounted, and mostly stable when items are added.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import attrs

from dvcore.data.augment import crop_field, hflip_field, resize_field, time_reverse_field, vflip_field
from dvcore.data.robust import natural_key
from dvcore.errors import raise_recipe_problems
from dvcore.options import ge, gt, lt, opt

SPLITS = ("train", "eval")
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class ClipSourceOptions:
    """The options every source of clips cut from longer sequences shares (frame folders, videos):
    the window (frames, stride, frame step), the held-out fraction, and the augmentations.

    A source subclasses it (``@attrs.frozen(kw_only=True)``) and adds ``root`` and ``eval_root``.
    """

    num_frames: int = opt(5, "frames per clip", ge(1))
    stride: int = opt(1, "frames between the starts of consecutive clips of a sequence", gt(0))
    frame_step: int = opt(1, "frames between the frames of a clip (2 = half the frame rate)", gt(0))
    eval_fraction: float = opt(
        0.1, "unset eval_root: fraction of the sequences held out (by name hash)", gt(0), lt(1)
    )
    resize: list[int] | None = resize_field()
    crop: list[int] | None = crop_field()
    hflip: bool = hflip_field()
    vflip: bool = vflip_field()
    time_reverse: bool = time_reverse_field()


def clip_index(index: int, length: int, split: str) -> int:
    """``index`` of a split of ``length`` clips as a non-negative int (negative counts from the end)."""
    if not isinstance(index, int):
        raise TypeError(f"expected an int index, got {type(index).__name__}")
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"index out of range for {split} split of {length} clips")
    return index


def split_of(found: tuple[dict[str, list[T]], list[tuple[str, str]]], split: str) -> list[T]:
    """One split's items from a scan's (splits, problems), after raising the problems as ``data.<field>``."""
    splits, problems = found
    raise_recipe_problems("data", problems)
    return splits[split]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")


class ClipWindows:
    """The windows of ``num_frames`` frames over sequences of the given lengths."""

    def __init__(self, lengths: list[int], *, num_frames: int, stride: int, frame_step: int = 1):
        self.num_frames, self.stride, self.frame_step = num_frames, stride, frame_step
        self.span = (num_frames - 1) * frame_step + 1  # frames a window covers
        self.counts = [max(0, (length - self.span) // stride + 1) for length in lengths]
        self.ends = list(itertools.accumulate(self.counts))  # ends[s] = windows in sequences 0..s

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def locate(self, index: int) -> tuple[int, list[int]]:
        """Window ``index`` -> (sequence, the frame indices it takes, ascending)."""
        sequence = bisect.bisect_right(self.ends, index)
        start = (index - (self.ends[sequence] - self.counts[sequence])) * self.stride
        return sequence, [start + k * self.frame_step for k in range(self.num_frames)]


def hold_out(names: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """(train, eval): round(fraction * n) names, at least 1 (and at least 1 left), held out by hash."""
    if len(names) < 2:
        return list(names), []
    k = min(max(1, round(fraction * len(names))), len(names) - 1)
    ranked = sorted(names, key=lambda name: hashlib.blake2b(name.encode(), digest_size=8).digest())
    held = set(ranked[:k])
    return [n for n in names if n not in held], [n for n in names if n in held]


def walk_files(root: Path, extensions: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """(folder relative to root, its files with one of ``extensions``) for every folder holding any.

    Files are in natural order (frame_2 before frame_10); that is the frame order of a clip folder.

    Folders are visited in sorted order, symlinks followed; hidden files and folders are ignored.
    """
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        picked = sorted(
            (f for f in files if f.lower().endswith(extensions) and not f.startswith(".")), key=natural_key
        )
        if picked:
            rel = os.path.relpath(folder, root)
            yield ("" if rel == "." else rel), picked
