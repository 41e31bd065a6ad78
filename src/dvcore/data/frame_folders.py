"""frame_folders: clips cut from folders of image frames (your own videos, extracted to images).

Layout: any folder under ``root`` (at any depth) that directly holds image files
(.png, .jpg, .jpeg, .bmp, .webp, ...) is one clip folder; its files in natural
order (frame_2 before frame_10) are its frames::

    ROOT/beach/0001.png 0002.png ...
    ROOT/city/day/frame_1.jpg frame_2.jpg ...

A sample is a window of ``num_frames`` frames, ``frame_step`` apart (2 halves the
frame rate), and windows start every ``stride`` frames, so one folder of F frames
gives (F - span) // stride + 1 clips, span = (num_frames - 1) * frame_step + 1.

Eval split: the clip folders under ``eval_root`` when set, else a held-out fraction
of the folders under ``root``, chosen by a hash of their relative paths (whole
folders, so no eval clip shares frames with a train clip; see ``dvcore.data.clips``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs
import torch

from dvcore.data.augment import (
    Augment,
    resize_crop_problems,
    sample_generator,
)
from dvcore.data.clips import ClipSourceOptions, ClipWindows, check_split, hold_out, split_of, walk_files
from dvcore.data.robust import IMAGE_EXTENSIONS, SkippingDataset, read_image, stack_frames, to_unit_float
from dvcore.options import existing_path, opt

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FrameFoldersOptions(ClipSourceOptions):
    """Clips of N frames cut from folders of image frames."""

    root: str = opt(attrs.NOTHING, "folder of clip folders (any folder holding image frames)", existing_path)
    eval_root: str | None = opt(
        None, "folder of eval clip folders; unset = hold out eval_fraction", existing_path
    )

    def problems(self) -> Iterable[tuple[str, str]]:
        """[height, width] pairs; the folders hold clips of the length asked, in both splits."""
        yield from resize_crop_problems(self.resize, self.crop)
        if Path(self.root).expanduser().exists() and (
            self.eval_root is None or Path(self.eval_root).expanduser().exists()
        ):
            yield from scan(self)[1]


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------


def clip_folders(root: Path) -> dict[str, list[str]]:
    """Relative folder -> its frame file names, natural order."""
    return dict(walk_files(root, IMAGE_EXTENSIONS))


def scan(options: FrameFoldersOptions) -> tuple[dict[str, list[list[Path]]], list[tuple[str, str]]]:
    """Each split's clip folders ({split: [frame paths of a folder, ...]}) and the problems found."""
    root = Path(options.root).expanduser()
    folders = clip_folders(root)
    problems: list[tuple[str, str]] = []
    if not folders:
        problems.append(("root", f"no image frames ({', '.join(IMAGE_EXTENSIONS)}) in {str(root)!r}"))
        return {}, problems
    if options.eval_root is not None:
        eval_root = Path(options.eval_root).expanduser()
        eval_folders = clip_folders(eval_root)
        if not eval_folders:
            problems.append(
                ("eval_root", f"no image frames ({', '.join(IMAGE_EXTENSIONS)}) in {str(eval_root)!r}")
            )
            return {}, problems
        splits = {
            "train": [[root / rel / f for f in folders[rel]] for rel in folders],
            "eval": [[eval_root / rel / f for f in eval_folders[rel]] for rel in eval_folders],
        }
    else:
        if len(folders) < 2:
            problems.append(
                (
                    "eval_fraction",
                    f"holding out eval clips needs at least 2 clip folders, {str(root)!r} has 1; "
                    "add folders or set eval_root",
                )
            )
            return {}, problems
        train, held = hold_out(sorted(folders), options.eval_fraction)
        splits = {
            "train": [[root / rel / f for f in folders[rel]] for rel in train],
            "eval": [[root / rel / f for f in folders[rel]] for rel in held],
        }
    span = (options.num_frames - 1) * options.frame_step + 1
    for split, sequences in splits.items():
        longest = max(len(s) for s in sequences)
        if longest < span:
            where = "eval_root" if split == "eval" and options.eval_root else "root"
            problems.append(
                (
                    "num_frames",
                    f"a clip spans {span} frames, but no {split} clip folder under {where} has that many "
                    f"(the longest has {longest})",
                )
            )
    return splits, problems


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class FrameFolders(SkippingDataset):
    """A split of frame_folders: ``dataset[i] -> {"frames": (N, 3, H, W)}`` float32 in [0, 1], RGB."""

    def __init__(self, options: FrameFoldersOptions, *, split: str, seed: int):
        check_split(split)
        super().__init__(f"frame_folders/{split}", seed)
        self.options, self.split = options, split
        self.sequences: list[list[Path]] = split_of(scan(options), split)
        self.windows = ClipWindows(
            [len(s) for s in self.sequences],
            num_frames=options.num_frames,
            stride=options.stride,
            frame_step=options.frame_step,
        )
        self.resize = (options.resize[0], options.resize[1]) if options.resize else None  # [H, W]
        self.augment = Augment.from_options(options) if split == "train" else Augment()

    def __len__(self) -> int:
        return len(self.windows)

    def clip_paths(self, index: int) -> list[Path]:
        """The frame files of clip ``index``, in order."""
        sequence, frames = self.windows.locate(index)
        return [self.sequences[sequence][k] for k in frames]

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        paths = self.clip_paths(index)
        frames = []
        for path in map(str, paths):
            self.check_readable(path)
            frames.append(read_image(path, resize=self.resize))  # (3, H, W) uint8
        x = stack_frames(frames, paths[0].parent)  # (N, 3, H, W) uint8
        if self.augment.enabled:
            x = self.augment(x, sample_generator(self.seed, self.split, self.epoch, requested))
        return {"frames": to_unit_float(x)}  # (N, 3, H, W) float32


def build_frame_folders(options: FrameFoldersOptions, *, split: str, seed: int) -> FrameFolders:
    """Clips of N frames from folders of image frames, sliding windows with a stride."""
    return FrameFolders(options, split=split, seed=seed)
