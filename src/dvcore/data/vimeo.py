"""vimeo_septuplet: the Vimeo-90K septuplet set (Xue et al., "Video Enhancement with Task-Oriented Flow",
2019).

Layout, as distributed (``vimeo_septuplet.zip``)::

    ROOT/sequences/00001/0001/im1.png ... im7.png      448x256 RGB frames
    ROOT/sep_trainlist.txt                             one clip per line: 00001/0001
    ROOT/sep_testlist.txt

A clip is ``num_frames`` consecutive frames centred on im4: N=3 is im3..im5, N=5
im2..im6 (the interpolate task withholds the middle one, im4, and predicts it from
im2, im3, im5, im6), N=7 all seven. The train split reads the train list and may be
augmented (random crop, flips, temporal reversal); the eval split reads the test
list and is always at the full 448x256.

Checks before any work (``problems``, one line each, exit 2 at validate): the
sequences folder and both list files exist, the lists are not empty, and every
clip they list exists (by a listing of the sequences folder, not a stat per clip).
A frame that is missing or corrupt inside an existing clip skips the clip at read
time (see ``dvcore.data.robust``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import attrs
import torch

from dvcore.data.augment import (
    Augment,
    crop_field,
    hflip_field,
    pair_problems,
    sample_generator,
    time_reverse_field,
    vflip_field,
)
from dvcore.data.clips import check_split
from dvcore.data.robust import SkippingDataset, read_image, stack_frames, to_unit_float
from dvcore.data.splits import offered
from dvcore.errors import raise_recipe_problems
from dvcore.options import existing_path, opt

#: Vimeo-90K frame size (height, width).
FRAME_SIZE = (256, 448)
#: Frames per septuplet; the middle one is im4.
SEPTUPLET = 7

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class VimeoSeptupletOptions:
    """Vimeo-90K septuplets: clips of 3, 5 or 7 frames centred on im4."""

    root: str = opt(attrs.NOTHING, "folder holding sequences/ and the list files", existing_path)
    num_frames: Literal[3, 5, 7] = opt(5, "frames per clip, centred on im4 (5 = im2..im6)")
    train_list: str = opt("sep_trainlist.txt", "train clips, one XXXXX/YYYY per line (relative to root)")
    eval_list: str = opt("sep_testlist.txt", "eval clips (relative to root); evaluated at full 448x256")
    crop: list[int] | None = crop_field()
    hflip: bool = hflip_field()
    vflip: bool = vflip_field()
    time_reverse: bool = time_reverse_field()

    def problems(self) -> Iterable[tuple[str, str]]:
        """The crop fits the frame; the layout, the lists and the clips they name exist."""
        yield from pair_problems("crop", self.crop)
        crop = self.crop if self.crop is not None and len(self.crop) == 2 else None
        if crop is not None and (crop[0] > FRAME_SIZE[0] or crop[1] > FRAME_SIZE[1]):
            yield "crop", f"expected at most the frame size {list(FRAME_SIZE)}, got {self.crop!r}"
        if Path(self.root).expanduser().exists():  # else the root's own check has said so
            # only the splits on offer: scoring a run on a folder of test clips needs no train list
            yield from layout_problems(self, offered())


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------


def list_field(split: str) -> str:
    return "train_list" if split == "train" else "eval_list"


def read_list(path: Path) -> list[str]:
    """Clip names (XXXXX/YYYY) of a list file, blank lines skipped, backslashes made slashes."""
    return [line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()]


def existing_clips(sequences: Path) -> set[str]:
    """Every XXXXX/YYYY folder under sequences/, by listing (one readdir per XXXXX folder)."""
    found: set[str] = set()
    with os.scandir(sequences) as groups:
        for group in groups:
            if group.is_dir():
                with os.scandir(group.path) as clips:
                    found.update(f"{group.name}/{clip.name}" for clip in clips if clip.is_dir())
    return found


def layout_problems(options: VimeoSeptupletOptions, splits: Iterable[str]) -> Iterator[tuple[str, str]]:
    root = Path(options.root).expanduser()
    sequences = root / "sequences"
    if not sequences.is_dir():
        yield (
            "root",
            f"expected the Vimeo-90K layout sequences/XXXXX/YYYY/im1.png..im7.png, "
            f"but {str(root)!r} has no sequences folder",
        )
        return
    existing: set[str] | None = None
    for split in splits:
        field = list_field(split)
        path = root / getattr(options, field)
        if not path.is_file():
            yield field, f"list file does not exist: {str(path)!r}"
            continue
        clips = read_list(path)
        if not clips:
            yield field, f"{path.name} lists no clips"
            continue
        existing = existing_clips(sequences) if existing is None else existing
        missing = [clip for clip in clips if clip not in existing]
        if missing:
            noun = "clip that does" if len(missing) == 1 else "clips that do"
            yield (
                field,
                f"{path.name} lists {len(missing)} {noun} not exist in {str(sequences)!r}, e.g. {missing[0]}",
            )


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class VimeoSeptuplet(SkippingDataset):
    """A split of Vimeo-90K: ``dataset[i] -> {"frames": (N, 3, H, W)}`` float32 in [0, 1], RGB."""

    def __init__(self, options: VimeoSeptupletOptions, *, split: str, seed: int):
        check_split(split)
        super().__init__(f"vimeo_septuplet/{split}", seed)
        problems = list(layout_problems(options, [split]))
        raise_recipe_problems("data", problems)
        self.options, self.split = options, split
        self.sequences = Path(options.root).expanduser() / "sequences"
        self.clips = read_list(Path(options.root).expanduser() / getattr(options, list_field(split)))
        half = options.num_frames // 2
        mid = SEPTUPLET // 2 + 1  # im4
        self.frame_names = [f"im{k}.png" for k in range(mid - half, mid + half + 1)]
        self.augment = Augment.from_options(options) if split == "train" else Augment()

    def __len__(self) -> int:
        return len(self.clips)

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        folder = self.sequences / self.clips[index]
        frames = []
        for name in self.frame_names:
            path = str(folder / name)
            self.check_readable(path)
            frames.append(read_image(path))  # (3, H, W) uint8
        x = stack_frames(frames, folder)  # (N, 3, H, W) uint8
        if self.augment.enabled:
            x = self.augment(x, sample_generator(self.seed, self.split, self.epoch, requested))
        return {"frames": to_unit_float(x)}  # (N, 3, H, W)


def build_vimeo_septuplet(options: VimeoSeptupletOptions, *, split: str, seed: int) -> VimeoSeptuplet:
    """Vimeo-90K septuplets: N = 3, 5 or 7 frames centred on im4; train list / test list."""
    return VimeoSeptuplet(options, split=split, seed=seed)
