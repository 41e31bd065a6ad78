"""The faces recipes validate completely once data.root points at an image folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import dvcore.plugins
from dvcore import recipe as recipes
from dvcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
FACES = sorted((ROOT / "recipes").glob("faces_*_[0-9]*.toml"))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(48):  # the train split must hold a batch of the largest recipe (32)
        Image.fromarray(rng.integers(0, 255, (18, 14, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    return folder


@pytest.mark.parametrize("recipe", FACES, ids=[p.stem for p in FACES])
def test_faces_recipe_validates_with_an_image_folder(recipe, image_folder, fresh_plugins):
    registry = dvcore.plugins.load().registry
    backbone = recipes.read(recipe)["model"]["name"]  # with its `extends` chain merged in
    if ("backbone", backbone) not in registry:
        pytest.skip(f"backbone {backbone!r} is not installed")
    result = CliRunner().invoke(main, ["validate", str(recipe), "--set", f"data.root='{image_folder}'"])
    assert result.exit_code == 0, result.output
    assert ": ok — " in result.output


@pytest.mark.parametrize("recipe", FACES, ids=[p.stem for p in FACES])
def test_a_faces_recipe_trains_on_images_of_the_size_in_its_name(recipe):
    parsed = recipes.read(recipe)  # with its `extends` chain merged in
    size = int(recipe.stem.rsplit("_", 1)[1])
    assert parsed["task"]["name"] == "generate"
    assert (parsed["data"]["name"], parsed["data"]["size"]) == ("image_folder", size)
