"""image_folder: resize + centre crop, held-out split, and a corrupt file skipped, logged once and counted."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
import torch
from PIL import Image

from dvcore.data.image_folder import ImageFolderOptions, build_image_folder
from dvcore.errors import RecipeError
from dvcore.recipe import DatasetSection, structure
from dvcore.registry import Component, Registry
from dvcore.testing.fixtures import write_image


def problems(section: dict) -> list[str]:
    registry = Registry()
    registry.add(Component("dataset", "image_folder", build_image_folder, ImageFolderOptions))
    with pytest.raises(RecipeError) as error:
        structure({"name": "image_folder", **section}, registry, DatasetSection)
    return error.value.problems


def solid(value: int, height: int = 8, width: int = 8) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def value_of(image: torch.Tensor) -> int:
    return round(float(image.mean()) * 255)


@pytest.fixture
def faces(tmp_path) -> Path:
    """10 solid images (value 20 * i) in two subfolders, PNG and JPEG, and one corrupt file."""
    root = tmp_path / "faces"
    for i in range(10):
        suffix = "png" if i % 2 else "jpg"
        write_image(root / f"part{i // 5}" / f"{i:03d}.{suffix}", solid(20 * i))
    (root / "part0" / "002b.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    return root


def test_wide_image_is_centre_cropped_and_resized_to_size(tmp_path):
    pixels = np.zeros((16, 32, 3), np.uint8)
    pixels[:, :8] = 250  # left and right bands fall outside the centre square
    pixels[:, 24:] = 250
    pixels[:, 8:24, 0] = np.arange(16, dtype=np.uint8)[:, None] * 10  # red ramp down the centre square
    write_image(tmp_path / "train" / "wide.png", pixels)
    write_image(tmp_path / "eval" / "e.png", solid(0))
    options = ImageFolderOptions(root=str(tmp_path / "train"), eval_root=str(tmp_path / "eval"), size=16)
    image = build_image_folder(options, split="train", seed=0)[0]["image"]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert torch.equal(image, torch.from_numpy(pixels[:, 8:24]).permute(2, 0, 1).float() / 255)
    # shrinking: the same as scaling the whole image (shorter side to size) and then cropping its centre
    small = build_image_folder(attrs.evolve(options, size=4), split="train", seed=0)[0]["image"]
    with Image.open(tmp_path / "train" / "wide.png") as img:
        whole = np.asarray(img.convert("RGB").resize((8, 4), Image.Resampling.BICUBIC))[:, 2:6]
    assert torch.equal(small, torch.from_numpy(whole.copy()).permute(2, 0, 1).float() / 255)


def test_large_jpeg_decoded_at_reduced_scale_matches_a_full_decode(tmp_path):
    y, x = np.mgrid[0:256, 0:256]
    pixels = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)
    write_image(tmp_path / "big" / "a.jpg", pixels)
    write_image(tmp_path / "eval" / "e.jpg", solid(0))
    options = ImageFolderOptions(root=str(tmp_path / "big"), eval_root=str(tmp_path / "eval"), size=32)
    fast = build_image_folder(options, split="train", seed=0)[0]["image"]
    with Image.open(tmp_path / "big" / "a.jpg") as img:
        full = np.asarray(img.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC))
    reference = torch.from_numpy(full.copy()).permute(2, 0, 1).float() / 255
    assert float((fast - reference).abs().mean()) < 2 / 255


def test_corrupt_file_is_skipped_for_the_next_image_logged_once_and_counted(faces, capsys):
    options = ImageFolderOptions(root=str(faces), eval_root=str(faces / "part1"), size=8)
    train = build_image_folder(options, split="train", seed=0)
    names = [p.name for p in train.paths]
    assert len(train) == 11 and names.index("002b.png") == 3
    values = [value_of(train[i]["image"]) for i in range(len(train))]
    assert values[3] == values[4] == 60  # 002b.png is corrupt: 003.png stands in for it
    assert [value_of(train[3]["image"]) for _ in range(3)] == [60] * 3
    assert train.num_corrupt == 1 and train.corrupt_files == [str(faces / "part0" / "002b.png")]
    assert capsys.readouterr().err.count("skipping unreadable file") == 1
    assert abs(values[0] - 0) <= 2 and abs(values[2] - 40) <= 2  # JPEGs: within rounding


def test_held_out_split_is_deterministic_and_disjoint(faces):
    options = ImageFolderOptions(root=str(faces), eval_fraction=0.2, size=8)
    train, evaluation = (build_image_folder(options, split=s, seed=0) for s in ("train", "eval"))
    assert len(evaluation) == 2 and len(train) == 9
    assert not set(train.paths) & set(evaluation.paths)
    assert build_image_folder(options, split="eval", seed=7).paths == evaluation.paths


def test_hflip_is_train_only_and_seeded(tmp_path):
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[:, :4] = 255
    write_image(tmp_path / "t" / "a.png", pixels)
    write_image(tmp_path / "e" / "a.png", pixels)
    options = ImageFolderOptions(root=str(tmp_path / "t"), eval_root=str(tmp_path / "e"), size=8, hflip=True)
    train = build_image_folder(options, split="train", seed=0)
    lefts = []
    for epoch in range(12):
        train.set_epoch(epoch)
        first, again = train[0]["image"], train[0]["image"]
        assert torch.equal(first, again)
        lefts.append(float(first[0, 0, 0]))
    assert set(lefts) == {0.0, 1.0}  # flipped in some epochs, not in others
    evaluation = build_image_folder(options, split="eval", seed=0)
    assert all(float(evaluation[0]["image"][0, 0, 0]) == 1.0 for _ in range(3))


def test_empty_folder_is_a_validation_problem(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    assert problems({"root": str(tmp_path / "empty")}) == [
        f"root: no images (.png, .jpg, .jpeg, .bmp, .webp, .ppm, .tif, .tiff) in '{tmp_path / 'empty'}'"
    ]
