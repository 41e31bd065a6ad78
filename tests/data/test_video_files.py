"""video_files: exact frames in order from .mp4/.mkv/.avi, decoded from the nearest keyframe, not the whole
file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import pytest

from dvcore.data.video_files import VideoFilesOptions, build_video_files, frame_timestamps
from dvcore.errors import RecipeError
from dvcore.recipe import DatasetSection, structure
from dvcore.registry import Component, Registry
from dvcore.testing.fixtures import make_video, video_codes


def problems(section: dict) -> list[str]:
    registry = Registry()
    registry.add(Component("dataset", "video_files", build_video_files, VideoFilesOptions))
    with pytest.raises(RecipeError) as error:
        structure({"name": "video_files", **section}, registry, DatasetSection)
    return error.value.problems


@pytest.fixture
def videos(tmp_path) -> Path:
    pytest.importorskip("av")
    make_video(tmp_path / "train" / "a.mp4", 20)  # h264, a keyframe every 4 frames or sooner
    make_video(tmp_path / "train" / "sub" / "b.mkv", 9, codec="mpeg4")  # with B-frames
    make_video(tmp_path / "eval" / "c.avi", 8, codec="mpeg4")
    return tmp_path


def test_frames_are_indexed_exactly_and_clips_come_in_frame_order(videos):
    assert [len(frame_timestamps(p)) for p in (videos / "train" / "a.mp4", videos / "eval" / "c.avi")] == [
        20,
        8,
    ]
    options = VideoFilesOptions(
        root=str(videos / "train"), eval_root=str(videos / "eval"), num_frames=5, stride=3
    )
    train = build_video_files(options, split="train", seed=0)
    assert [p.name for p in train.paths] == ["a.mp4", "b.mkv"]
    assert [video_codes(s["frames"]) for s in train] == [
        *([k, k + 1, k + 2, k + 3, k + 4] for k in range(0, 16, 3)),  # a.mp4: 6 windows
        [0, 1, 2, 3, 4],  # b.mkv: 2 windows
        [3, 4, 5, 6, 7],
    ]
    clip = train[0]["frames"]
    assert clip.shape == (5, 3, 32, 48) and str(clip.dtype) == "torch.float32"
    evaluation = build_video_files(options, split="eval", seed=0)
    assert [video_codes(s["frames"]) for s in evaluation] == [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7]]


def test_frame_step_and_resize(videos):
    options = VideoFilesOptions(
        root=str(videos / "train" / "a.mp4"),
        eval_root=str(videos / "eval"),
        num_frames=3,
        stride=7,
        frame_step=3,
    )
    train = build_video_files(options, split="train", seed=0)
    assert [video_codes(s["frames"]) for s in train] == [[0, 3, 6], [7, 10, 13]]
    small = build_video_files(attrs.evolve(options, resize=[16, 20]), split="train", seed=0)
    assert small[1]["frames"].shape == (3, 3, 16, 20) and video_codes(small[1]["frames"]) == [7, 10, 13]


def test_a_clip_decodes_from_the_keyframe_before_it_not_from_the_start(videos, monkeypatch):
    import av

    decoded = []

    class Counting:
        def __init__(self, container):
            self.container = container

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.container.close()

        def __getattr__(self, name):
            return getattr(self.container, name)

        def decode(self, *args, **kwargs):
            for frame in self.container.decode(*args, **kwargs):
                decoded.append(round(frame.pts * frame.time_base * 25))  # frame index at 25 fps
                yield frame

    class CountingAV:
        def __getattr__(self, name):
            return getattr(av, name)

        def open(self, *args, **kwargs):
            return Counting(av.open(*args, **kwargs))

    options = VideoFilesOptions(
        root=str(videos / "train" / "a.mp4"), eval_root=str(videos / "eval"), num_frames=3
    )
    train = build_video_files(options, split="train", seed=0)
    monkeypatch.setattr("dvcore.data.video_files.import_av", CountingAV)
    assert video_codes(train[17]["frames"]) == [17, 18, 19]
    with av.open(str(videos / "train" / "a.mp4")) as container:
        stream = container.streams.video[0]
        keyframes = [
            round(p.pts * p.time_base * 25) for p in container.demux(stream) if p.size and p.is_keyframe
        ]
    start = max(k for k in keyframes if k <= 17)
    assert start >= 17 - 4 and decoded == list(range(start, 20))  # from the keyframe before, not from 0


def test_unreadable_video_is_skipped_logged_and_counted(videos, capsys):
    (videos / "train" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    options = VideoFilesOptions(
        root=str(videos / "train"), eval_root=str(videos / "eval"), num_frames=5, stride=3
    )
    train = build_video_files(options, split="train", seed=0)
    assert [p.name for p in train.paths] == ["a.mp4", "b.mkv"] and len(train) == 8
    assert train.num_corrupt == 1 and train.corrupt_files[0].endswith("broken.mp4")
    assert capsys.readouterr().err.count("skipping unreadable file") == 1


def test_held_out_files_and_problems(tmp_path, videos):
    options = VideoFilesOptions(root=str(videos), num_frames=3, eval_fraction=0.3)
    train, evaluation = (build_video_files(options, split=s, seed=0) for s in ("train", "eval"))
    assert (
        len(train.paths) == 2 and len(evaluation.paths) == 1 and not set(train.paths) & set(evaluation.paths)
    )
    (tmp_path / "none").mkdir()
    assert problems({"root": str(tmp_path / "none")}) == [
        f"root: no video files (.mp4, .mkv, .avi, .mov, .webm, .m4v) in '{tmp_path / 'none'}'"
    ]
    assert problems({"root": str(videos / "train" / "a.mp4")}) == [
        f"eval_fraction: holding out eval clips needs at least 2 video files, '{videos / 'train' / 'a.mp4'}' "
        "has 1; add files or set eval_root"
    ]
    with pytest.raises(RecipeError, match=r"data.num_frames: a clip spans 30 frames, but no train video"):
        build_video_files(attrs.evolve(options, num_frames=30), split="train", seed=0)


def test_missing_pyav_is_a_validation_problem(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    assert problems({"root": str(tmp_path)}) == [
        "root: reading video files needs PyAV: pip install 'dvcore[video]' (or pip install av)"
    ]
