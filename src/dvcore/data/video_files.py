"""video_files: clips of N consecutive frames decoded from video files with PyAV (FFmpeg).

Layout: every .mp4, .mkv, .avi, .mov, .webm, .m4v file under ``root`` (any depth),
or ``root`` itself when it is one file. Needs PyAV: ``pip install 'dvcore[video]'``.

Random access without decoding whole files:

- Index, once per file and process: demux the video stream's packets (no
  decoding, just reading) and keep each frame's presentation timestamp, sorted.
  That gives the exact frame count and a timestamp for every frame index, for
  variable frame rates and B-frames too, where ``stream.frames`` (a container
  header, absent in .mkv) or fps arithmetic would not. Indexes are cached per
  (path, size, mtime), so validating and then building a recipe reads each file once.
- Read clip i: seek to the keyframe at or before its first frame's timestamp and
  decode forward until its last frame, keeping the frames whose timestamps it
  wants. When a container's seek lands past the frame (rare; some .avi), it
  decodes again from the start of the file.

Clips, splits and augmentations are as in ``frame_folders``: windows of
``num_frames`` frames ``frame_step`` apart starting every ``stride`` frames; eval =
``eval_root`` or a held-out fraction of the files by name hash. ``resize`` scales
in FFmpeg's swscale as part of the RGB conversion. A file that fails to open,
demux or decode is skipped, logged once and counted like a corrupt image.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from dvcore.data.augment import (
    Augment,
    resize_crop_problems,
    sample_generator,
)
from dvcore.data.clips import ClipSourceOptions, ClipWindows, check_split, hold_out, walk_files
from dvcore.data.robust import CorruptFileError, SkippingDataset, describe, to_unit_float
from dvcore.errors import RecipeError, raise_recipe_problems
from dvcore.options import existing_path, opt

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v")
PYAV_MISSING = "reading video files needs PyAV: pip install 'dvcore[video]' (or pip install av)"

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VideoFilesOptions(ClipSourceOptions):
    """Clips of N consecutive frames from video files, decoded with PyAV."""

    root: str = opt(attrs.NOTHING, "a video file, or a folder of them (any depth)", existing_path)
    eval_root: str | None = opt(
        None, "a video file or folder for eval; unset = hold out eval_fraction of the files", existing_path
    )

    def problems(self) -> Iterable[tuple[str, str]]:
        """PyAV is there, [height, width] pairs, video files exist (their frames are counted at build)."""
        yield from resize_crop_problems(self.resize, self.crop)
        try:
            import_av()
        except RecipeError:
            yield "root", PYAV_MISSING
            return
        for field in ("root", "eval_root"):
            value = getattr(self, field)
            if value is not None and Path(value).expanduser().exists() and not video_paths(Path(value)):
                yield field, f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {str(value)!r}"
        if self.eval_root is None and Path(self.root).expanduser().exists():
            count = len(video_paths(Path(self.root)))
            if count == 1:
                yield (
                    "eval_fraction",
                    f"holding out eval clips needs at least 2 video files, {self.root!r} has 1; "
                    "add files or set eval_root",
                )


def import_av() -> Any:
    """The ``av`` module, imported on first use (an optional dependency)."""
    try:
        import av
    except ImportError:
        raise RecipeError([f"data.root: {PYAV_MISSING}"]) from None
    return av


# ----------------------------------------------------------------------------------------------
# Index: each file's frame timestamps, from demuxed packets
# ----------------------------------------------------------------------------------------------


def video_paths(root: Path) -> list[Path]:
    """The video files under ``root`` (folders in sorted order, files in natural order), or root itself."""
    root = root.expanduser()
    if root.is_file():
        return [root] if root.name.lower().endswith(VIDEO_EXTENSIONS) else []
    return [root / folder / name for folder, names in walk_files(root, VIDEO_EXTENSIONS) for name in names]


_INDEX: dict[tuple[str, int, int], list[int]] = {}
_INDEX_LOCK = threading.Lock()


def frame_timestamps(path: Path) -> list[int]:
    """Presentation timestamps of every frame of the first video stream, ascending (stream time base).

    Raises ``CorruptFileError`` when the file cannot be opened or demuxed or holds no frames.
    """
    av = import_av()
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise CorruptFileError(path, describe(exc)) from exc
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _INDEX_LOCK:
        if key in _INDEX:
            return _INDEX[key]
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CorruptFileError(path, "no video stream")
            stream = container.streams.video[0]
            stamps = sorted(
                packet.pts if packet.pts is not None else packet.dts
                for packet in container.demux(stream)
                if packet.size > 0 and (packet.pts is not None or packet.dts is not None)
            )
    except CorruptFileError:
        raise
    except Exception as exc:  # av.error.FFmpegError and friends
        raise CorruptFileError(path, describe(exc)) from exc
    if not stamps:
        raise CorruptFileError(path, "no video frames")
    with _INDEX_LOCK:
        _INDEX[key] = stamps
    return stamps


def read_frames(
    path: Path, stamps: list[int], wanted: list[int], resize: tuple[int, int] | None
) -> np.ndarray:
    """Decode frames ``wanted`` (ascending indices into ``stamps``) -> (N, 3, H, W) uint8 RGB (a view)."""
    av = import_av()
    slot = {stamps[k]: i for i, k in enumerate(wanted)}
    last = stamps[wanted[-1]]
    out: list[np.ndarray | None] = [None] * len(wanted)
    size = {} if resize is None else {"height": resize[0], "width": resize[1], "interpolation": "BICUBIC"}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for attempt in ("seek", "from the start"):
                if attempt == "seek":
                    container.seek(stamps[wanted[0]], stream=stream, backward=True, any_frame=False)
                else:
                    container.seek(0, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    pts = frame.pts if frame.pts is not None else frame.dts
                    if pts in slot:
                        out[slot[pts]] = frame.to_ndarray(format="rgb24", **size)  # (H, W, 3)
                    if pts is not None and pts >= last:
                        break
                if all(f is not None for f in out):
                    break
    except Exception as exc:  # av.error.FFmpegError and friends
        raise CorruptFileError(path, describe(exc)) from exc
    missing = [wanted[i] for i, f in enumerate(out) if f is None]
    if missing:
        raise CorruptFileError(path, f"frames {missing} could not be decoded")
    return np.stack([f for f in out if f is not None]).transpose(0, 3, 1, 2)  # (N, 3, H, W), all decoded


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class VideoFiles(SkippingDataset):
    """A split of video_files: ``dataset[i] -> {"frames": (N, 3, H, W)}`` float32 in [0, 1], RGB."""

    def __init__(self, options: VideoFilesOptions, *, split: str, seed: int):
        check_split(split)
        super().__init__(f"video_files/{split}", seed)
        import_av()
        self.options, self.split = options, split
        if options.eval_root is not None:
            paths = video_paths(Path(options.root if split == "train" else options.eval_root))
        else:
            root = Path(options.root).expanduser()
            everything = {str(p.relative_to(root)) if p != root else p.name: p for p in video_paths(root)}
            train, held = hold_out(sorted(everything), options.eval_fraction)
            paths = [everything[name] for name in (train if split == "train" else held)]
        self.paths: list[Path] = []
        self.stamps: list[list[int]] = []
        for path in paths:  # unreadable files are counted now and left out of the index
            try:
                self.stamps.append(frame_timestamps(path))
                self.paths.append(path)
            except CorruptFileError as exc:
                self.corrupt.add(exc.path, exc.reason)
        self.windows = ClipWindows(
            [len(s) for s in self.stamps],
            num_frames=options.num_frames,
            stride=options.stride,
            frame_step=options.frame_step,
        )
        if not len(self.windows):
            raise_recipe_problems("data", self.empty_reason())
        self.resize = (options.resize[0], options.resize[1]) if options.resize else None  # [H, W]
        self.augment = Augment.from_options(options) if split == "train" else Augment()

    def empty_reason(self) -> list[tuple[str, str]]:
        field = "eval_root" if self.split == "eval" and self.options.eval_root else "root"
        if not self.paths:
            return [(field, f"no readable {self.split} video files ({len(self.corrupt)} unreadable)")]
        span = self.windows.span
        longest = max(len(s) for s in self.stamps)
        return [
            (
                "num_frames",
                f"a clip spans {span} frames, but no {self.split} video under {field} has that many "
                f"(the longest has {longest})",
            )
        ]

    def __len__(self) -> int:
        return len(self.windows)

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        video, frames = self.windows.locate(index)
        path = self.paths[video]
        self.check_readable(str(path))
        x = read_frames(path, self.stamps[video], frames, self.resize)  # (N, 3, H, W) uint8
        if self.augment.enabled:
            x = self.augment(x, sample_generator(self.seed, self.split, self.epoch, requested))
        return {"frames": to_unit_float(x)}  # (N, 3, H, W)


def build_video_files(options: VideoFilesOptions, *, split: str, seed: int) -> VideoFiles:
    """Clips of N consecutive frames from .mp4/.mkv/.avi files (PyAV), indexed once, decoded from a
    keyframe."""
    return VideoFiles(options, split=split, seed=seed)
