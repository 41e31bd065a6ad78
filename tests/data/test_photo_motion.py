"""photo_motion: real photographs under a moving camera, occluding sprites, a held-out photo split."""

from __future__ import annotations

import math

import attrs
import cv2
import numpy as np
import pytest
import torch

from dvcore import recipe as recipes
from dvcore.data.photo_motion import PhotoMotion, PhotoMotionOptions, render, split_photos
from dvcore.data.photos import EVAL_PHOTOS, PHOTOS, load_photo
from dvcore.plugins import load

STILL = {"rotation": 0.0, "zoom": 0.0, "sprites": [0, 0]}


def test_every_listed_photo_ships_with_an_installed_package():
    for name in PHOTOS:
        photo = load_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
        assert min(photo.shape[:2]) >= 190, name
        assert photo.std() > 10, name  # a picture, not a blank


def test_a_clip_is_a_function_of_seed_split_and_index():
    options = PhotoMotionOptions(height=48, width=80, num_train=10, num_eval=4)
    first = PhotoMotion(options, split="train", seed=3)
    again = PhotoMotion(options, split="train", seed=3)
    assert torch.equal(first[5]["frames"], again[5]["frames"])
    assert not torch.equal(first[5]["frames"], first[6]["frames"])
    assert not torch.equal(first[5]["frames"], PhotoMotion(options, split="train", seed=4)[5]["frames"])
    assert torch.equal(first[-1]["frames"], first[9]["frames"])
    with pytest.raises(IndexError):
        first[10]


def test_eval_seed_fixes_the_eval_clips_whatever_the_run_seed():
    options = PhotoMotionOptions(height=24, width=32, num_train=4, num_eval=2, eval_seed=0)
    run_seed_1 = PhotoMotion(options, split="eval", seed=1)
    seed_0 = PhotoMotion(attrs.evolve(options, eval_seed=None), split="eval", seed=0)
    assert torch.equal(run_seed_1[1]["frames"], seed_0[1]["frames"])
    train_1 = PhotoMotion(options, split="train", seed=1)  # train clips still follow the run's seed
    assert not torch.equal(train_1[0]["frames"], PhotoMotion(options, split="train", seed=0)[0]["frames"])


def test_eval_photos_never_appear_in_train_clips():
    options = PhotoMotionOptions(height=32, width=32, sprites=[2, 2], num_train=60, num_eval=30)
    splits = split_photos(options)
    assert set(splits["eval"]) == set(EVAL_PHOTOS)
    assert not set(splits["train"]) & set(splits["eval"])
    assert set(splits["train"]) | set(splits["eval"]) == set(PHOTOS)
    for split in ("train", "eval"):
        dataset = PhotoMotion(options, split=split, seed=0)
        used = set()
        for i in range(len(dataset)):
            scene = dataset.scene(i)
            used |= {scene.photo, *(s.photo for s in scene.sprites)}
        assert used <= set(splits[split]), split
        assert len(used) > 1


def test_a_chosen_photo_list_is_split_as_asked():
    options = PhotoMotionOptions(photos=["astronaut", "coffee", "rocket"], eval_photos=["rocket"])
    assert split_photos(options) == {"train": ["astronaut", "coffee"], "eval": ["rocket"]}


@pytest.mark.parametrize("speed", [3.0, 10.0])
def test_camera_translation_moves_the_content_by_the_configured_pixels_per_frame(speed):
    # Measured independently of the renderer: phase correlation between consecutive frames.
    options = PhotoMotionOptions(height=128, width=160, speed=[speed, speed], acceleration=1.0, **STILL)
    dataset = PhotoMotion(options, split="train", seed=0)
    window = cv2.createHanningWindow((160, 128), cv2.CV_64F)
    for i in range(3):
        scene = dataset.scene(i)
        grey = dataset[i]["frames"].mean(dim=1).double().numpy()  # (N, H, W)
        for k in range(len(grey) - 1):
            measured = np.array(cv2.phaseCorrelate(grey[k], grey[k + 1], window)[0])
            t = k + 0.5 - (len(grey) - 1) / 2  # time between the two frames
            expected = -(scene.velocity + scene.acceleration * t)  # content moves against the camera
            assert np.abs(measured - expected).max() < 0.35, (i, k, measured, expected)
        assert np.linalg.norm(scene.velocity) == pytest.approx(speed)
        assert np.linalg.norm(scene.acceleration) <= 1.0


def test_drawn_motion_stays_within_the_configured_magnitudes():
    options = PhotoMotionOptions(
        speed=[4.0, 12.0], acceleration=2.0, rotation=3.0, zoom=0.05, sprite_speed=[1.0, 5.0], sprites=[1, 3]
    )
    dataset = PhotoMotion(options, split="train", seed=1)
    speeds, spins = [], []
    for i in range(60):
        scene = dataset.scene(i)
        speeds.append(np.linalg.norm(scene.velocity))
        spins.append(abs(scene.spin))
        assert np.linalg.norm(scene.acceleration) <= 2.0
        assert abs(scene.zoom) <= 0.05
        assert 1 <= len(scene.sprites) <= 3
        for sprite in scene.sprites:
            assert 1.0 <= np.linalg.norm(sprite.velocity) <= 5.0
    assert min(speeds) >= 4.0 and max(speeds) <= 12.0 and max(speeds) - min(speeds) > 4
    assert max(spins) <= math.radians(3.0) and max(spins) > math.radians(1.5)


def test_a_sprite_moves_over_the_photo_at_its_own_speed():
    # A still camera: the only change between frames is the sprite, whose centre is tracked.
    options = PhotoMotionOptions(
        height=96, width=96, speed=[0.0, 0.0], acceleration=0.0, sprites=[1, 1], sprite_size=[0.15, 0.15],
        sprite_speed=[4.0, 4.0], sprite_acceleration=0.0, sprite_rotation=0.0, rotation=0.0, zoom=0.0,
    )  # fmt: skip
    dataset = PhotoMotion(options, split="train", seed=2)
    scene = dataset.scene(0)
    frames = dataset[0]["frames"]  # (N, 3, H, W)
    background = PhotoMotion(attrs.evolve(options, sprites=[0, 0]), split="train", seed=2)[0]["frames"]
    sprite = scene.sprites[0]
    for k, t in enumerate(np.arange(len(frames)) - (len(frames) - 1) / 2):
        centre = sprite.centre + sprite.velocity * t
        if not (12 < centre[0] < 84 and 12 < centre[1] < 84):
            continue  # partly outside the frame: its changed pixels are not centred on it
        changed = (frames[k] - background[k]).abs().sum(dim=0) > 0.02  # (H, W)
        ys, xs = torch.nonzero(changed, as_tuple=True)
        assert abs(float(xs.float().mean()) - centre[0]) < 1.5
        assert abs(float(ys.float().mean()) - centre[1]) < 1.5


@pytest.mark.parametrize("num_frames", [3, 5, 7])
def test_clip_sizes_whole_frames_and_crops(num_frames):
    options = PhotoMotionOptions(
        height=40, width=72, crop=[16, 24], num_frames=num_frames, num_train=4, num_eval=2
    )
    train = PhotoMotion(options, split="train", seed=0)[0]["frames"]
    evaluation = PhotoMotion(options, split="eval", seed=0)[0]["frames"]
    assert train.shape == (num_frames, 3, 16, 24) and train.dtype == torch.float32
    assert evaluation.shape == (num_frames, 3, 40, 72)
    assert float(train.min()) >= 0.0 and float(train.max()) <= 1.0
    cropped_eval = PhotoMotion(attrs.evolve(options, crop_eval=True), split="eval", seed=0)[0]["frames"]
    assert cropped_eval.shape == (num_frames, 3, 16, 24)


def test_a_crop_is_the_same_pixels_as_the_whole_frame_there():
    whole = PhotoMotionOptions(height=64, width=96, sprites=[2, 2], num_eval=3)
    cropped = attrs.evolve(whole, crop=[32, 40], crop_eval=True)
    for i in range(3):
        window = PhotoMotion(cropped, split="eval", seed=0)
        top, left = window.scene(i).crop
        scene = window.scene(i)
        # Render the same scene uncropped: the window must be a cut of it.
        full = render(attrs.evolve(scene, crop=(0, 0)), whole, window.times, (64, 96))
        part = window[i]["frames"].permute(0, 2, 3, 1).numpy()
        assert np.abs(full[:, top : top + 32, left : left + 40] - part).max() < 1e-4


def test_the_dataset_is_registered_and_bad_options_are_reported():
    registry = load(strict=True).registry
    assert ("dataset", "photo_motion") in registry
    section = {"name": "photo_motion", "crop": [300, 64], "photos": ["astronaut", "selfie"]}
    with pytest.raises(recipes.RecipeError) as err:
        recipes.structure(section, registry, recipes.DatasetSection)
    message = "\n".join(err.value.problems)
    assert "crop: expected at most [height, width] = [256, 448], got [300, 64]" in message
    assert "photos: unknown photo 'selfie'" in message


@pytest.mark.parametrize("name", ["photo_motion_64.toml", "photo_motion_448x256.toml"])
def test_the_shipped_eval_data_files_are_valid_photo_motion_sections(name):
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "recipes" / "eval" / name
    section = recipes.structure(
        tomllib.loads(path.read_text())["data"], load().registry, recipes.DatasetSection
    )
    assert section.name == "photo_motion" and isinstance(section.options, PhotoMotionOptions)
    assert section.options.num_frames == 5
