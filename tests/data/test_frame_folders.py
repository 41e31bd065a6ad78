"""frame_folders: sliding windows in frame order, held-out folders, seeded augmentation, sharding, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dvcore.data.augment import Augment, sample_generator
from dvcore.data.frame_folders import FrameFoldersOptions, build_frame_folders
from dvcore.data.pipeline import build_loader
from dvcore.data.sampling import EpochShuffleSampler
from dvcore.errors import RecipeError
from dvcore.recipe import DatasetSection, structure
from dvcore.registry import Component, Registry
from dvcore.testing.fixtures import clip_code, frame_codes, make_frame_folders


def samples(dataset) -> list[tuple[int, list[int]]]:
    """(clip number, frame numbers) of every sample, in index order."""
    return [(clip_code(s["frames"]), frame_codes(s["frames"])) for s in dataset]


def problems(section: dict) -> list[str]:
    registry = Registry()
    registry.add(Component("dataset", "frame_folders", build_frame_folders, FrameFoldersOptions))
    with pytest.raises(RecipeError) as error:
        structure({"name": "frame_folders", **section}, registry, DatasetSection)
    return error.value.problems


@pytest.fixture
def folders(tmp_path) -> Path:
    make_frame_folders(tmp_path / "train", {"a": 7, "nested/b": 5})
    make_frame_folders(tmp_path / "eval", {"c": 5})
    return tmp_path


def test_windows_slide_with_stride_in_frame_order_over_every_folder(folders):
    options = FrameFoldersOptions(
        root=str(folders / "train"), eval_root=str(folders / "eval"), num_frames=3, stride=2
    )
    train = build_frame_folders(options, split="train", seed=0)
    assert samples(train) == [(0, [0, 1, 2]), (0, [2, 3, 4]), (0, [4, 5, 6]), (1, [0, 1, 2]), (1, [2, 3, 4])]
    assert train[0]["frames"].shape == (3, 3, 12, 16) and train[0]["frames"].dtype == torch.float32
    assert samples(build_frame_folders(options, split="eval", seed=0)) == [(0, [0, 1, 2]), (0, [2, 3, 4])]


def test_frame_step_skips_frames_within_a_clip(folders):
    options = FrameFoldersOptions(
        root=str(folders / "train"), eval_root=str(folders / "eval"), num_frames=3, stride=1, frame_step=2
    )
    assert samples(build_frame_folders(options, split="train", seed=0)) == [
        (0, [0, 2, 4]),
        (0, [1, 3, 5]),
        (0, [2, 4, 6]),
        (1, [0, 2, 4]),
    ]


def test_frames_are_in_natural_order(tmp_path):
    make_frame_folders(tmp_path / "x", {"clip": 8}, pattern="frame_{}.png")
    (tmp_path / "x" / "clip" / "frame_7.png").rename(tmp_path / "x" / "clip" / "frame_10.png")
    make_frame_folders(tmp_path / "e", {"c": 8})
    options = FrameFoldersOptions(root=str(tmp_path / "x"), eval_root=str(tmp_path / "e"), num_frames=8)
    assert samples(build_frame_folders(options, split="train", seed=0)) == [(0, [0, 1, 2, 3, 4, 5, 6, 7])]


def test_held_out_folders_are_deterministic_disjoint_whole_folders(tmp_path):
    make_frame_folders(tmp_path, {f"clip{i:02d}": 3 for i in range(20)})
    options = FrameFoldersOptions(root=str(tmp_path), num_frames=3, eval_fraction=0.2)
    train, evaluation = (build_frame_folders(options, split=s, seed=0) for s in ("train", "eval"))
    train_clips = {c for c, _ in samples(train)}
    eval_clips = {c for c, _ in samples(evaluation)}
    assert len(eval_clips) == 4 and len(train_clips) == 16 and not train_clips & eval_clips
    again = build_frame_folders(options, split="eval", seed=123)  # the split does not depend on the seed
    assert {c for c, _ in samples(again)} == eval_clips


def test_resize_then_train_only_augmentation(folders):
    options = FrameFoldersOptions(
        root=str(folders / "train"),
        eval_root=str(folders / "eval"),
        num_frames=3,
        resize=[6, 8],
        crop=[4, 4],
        hflip=True,
    )
    assert build_frame_folders(options, split="train", seed=0)[0]["frames"].shape == (3, 3, 4, 4)
    assert build_frame_folders(options, split="eval", seed=0)[0]["frames"].shape == (3, 3, 6, 8)


def test_augmentations_are_exact_flips_reversals_and_windows_seeded_by_seed_epoch_index():
    clip = np.arange(5 * 3 * 6 * 7).reshape(5, 3, 6, 7)
    aug = Augment(crop=(4, 5), hflip=True, vflip=True, time_reverse=True)
    seen = set()
    for index in range(40):
        out = aug(clip, sample_generator(0, "train", 0, index))
        assert np.array_equal(out, aug(clip, sample_generator(0, "train", 0, index)))  # deterministic
        matches = [
            (y, x, h, v, r)
            for h in (0, 1)
            for v in (0, 1)
            for r in (0, 1)
            for y in range(3)
            for x in range(3)
            if np.array_equal(out, _view(clip, y, x, h, v, r))
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert {m[2:] for m in seen} == {(h, v, r) for h in (0, 1) for v in (0, 1) for r in (0, 1)}
    assert len({m[:2] for m in seen}) == 9  # every crop position turns up
    epochs = [aug(clip, sample_generator(0, "train", e, 7)) for e in range(6)]
    assert any(not np.array_equal(epochs[0], e) for e in epochs[1:])  # a new draw each epoch


def _flip(clip: np.ndarray, h: int, v: int, r: int) -> np.ndarray:
    if h:
        clip = np.flip(clip, -1)
    if v:
        clip = np.flip(clip, -2)
    return np.flip(clip, 0) if r else clip


def _view(clip: np.ndarray, y: int, x: int, h: int, v: int, r: int) -> np.ndarray:
    """Crop at (y, x), then flips: the order Augment applies them in."""
    return _flip(clip[..., y : y + 4, x : x + 5], h, v, r)


def test_each_sample_once_per_epoch_across_two_ranks_and_exact_resume(tmp_path):
    make_frame_folders(tmp_path, {f"c{i}": 4 for i in range(6)}, size=(4, 4))
    options = FrameFoldersOptions(root=str(tmp_path), num_frames=3, eval_fraction=0.2, hflip=True)
    dataset = build_frame_folders(options, split="train", seed=0)
    assert len(dataset) == 10  # 5 folders x 2 windows
    keys = {i: (clip_code(dataset[i]["frames"]), frame_codes(dataset[i]["frames"])[0]) for i in range(10)}
    assert len(set(keys.values())) == 10
    for epoch in range(2):
        ranks = []
        for rank in range(2):
            sampler = EpochShuffleSampler(len(dataset), seed=3, rank=rank, world_size=2)
            sampler.set_epoch(epoch)
            ranks.append([keys[i] for i in sampler])
        assert len(ranks[0]) == len(ranks[1]) == 5 and sorted(ranks[0] + ranks[1]) == sorted(keys.values())

    def make():
        return build_loader(
            dataset, batch_size=2, seed=1, shuffle=True, drop_last=True, num_workers=2, prefetch=2
        )

    def stream(loader, n):
        out = []
        while len(out) < n:
            for batch in loader:
                out.append(batch["frames"])
                if len(out) == n:
                    break
        return out

    reference = stream(make(), 8)  # 5 batches an epoch: crosses into the second
    loader = make()
    head = stream(loader, 3)
    state = loader.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = stream(resumed, 5)
    assert all(torch.equal(a, b) for a, b in zip(head + rest, reference, strict=True))


def test_empty_or_too_short_folders_are_validation_problems(tmp_path):
    (tmp_path / "empty").mkdir()
    assert problems({"root": str(tmp_path / "empty")}) == [
        f"root: no image frames (.png, .jpg, .jpeg, .bmp, .webp, .ppm, .tif, .tiff) in '{tmp_path / 'empty'}'"
    ]
    make_frame_folders(tmp_path / "one", {"a": 9})
    assert problems({"root": str(tmp_path / "one")}) == [
        f"eval_fraction: holding out eval clips needs at least 2 clip folders, '{tmp_path / 'one'}' has 1; "
        "add folders or set eval_root"
    ]
    make_frame_folders(tmp_path / "short", {"a": 4, "b": 3})
    assert problems({"root": str(tmp_path / "short"), "num_frames": 5, "crop": [2]}) == [
        "crop: expected [height, width], got [2]",
        "num_frames: a clip spans 5 frames, but no train clip folder under root has that many (the longest "
        "has 3)",
        "num_frames: a clip spans 5 frames, but no eval clip folder under root has that many (the longest "
        "has 4)",
    ]
