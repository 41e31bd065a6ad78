"""Every component the core ships passes the conformance kit, through its registration."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dvcore.testing import check_component, check_task, kit_registry
from dvcore.testing.fixtures import frame_pixels, make_frame_folders, make_video, make_vimeo, write_image


@pytest.fixture(scope="module")
def registry():
    """The installed components plus the kit's tiny backbone (the core ships none)."""
    return kit_registry()


CORE_NAMES = {
    "schedule": ["linear", "scaled_linear", "cosine", "sigmoid"],
    "sampler": ["ddpm", "ddim", "dpmsolver++", "euler", "heun"],
    "loss": ["diffusion", "pixel"],
    "dataset": ["moving_shapes", "digits", "photo_motion"],
    "tracker": ["none"],
    "baseline": ["copy", "blend", "flow"],
}


@pytest.mark.parametrize(
    ("kind", "name"), [(kind, name) for kind, names in CORE_NAMES.items() for name in names]
)
def test_core_component_passes_the_kit(registry, kind: str, name: str, tmp_path: Path):
    extra = {"directory": tmp_path} if kind == "tracker" else {}
    check_component(kind, name, registry=registry, **extra)


@pytest.mark.skipif(importlib.util.find_spec("aim") is None, reason="needs aim")
@pytest.mark.slow  # importing aim and creating its repo
def test_aim_tracker_passes_the_kit(registry, tmp_path: Path):
    options = registry.get("tracker", "aim").options(system_stats_interval=None)
    check_component("tracker", "aim", options, registry=registry, directory=tmp_path)


def test_on_disk_datasets_pass_the_kit(registry, tmp_path: Path):
    frames = make_frame_folders(tmp_path / "frames", {"a": 7, "b": 6, "c": 6})
    check_component(
        "dataset",
        "frame_folders",
        registry.get("dataset", "frame_folders").options(root=str(frames)),
        registry=registry,
    )
    vimeo = make_vimeo(tmp_path / "vimeo", ["00001/0001", "00001/0002"], ["00002/0001"])
    check_component(
        "dataset",
        "vimeo_septuplet",
        registry.get("dataset", "vimeo_septuplet").options(root=str(vimeo)),
        registry=registry,
    )
    images = tmp_path / "images"
    for k in range(6):
        write_image(images / f"{k}.png", frame_pixels(k, k, 12, 16))
    options = registry.get("dataset", "image_folder").options(root=str(images), size=8, eval_fraction=0.34)
    check_component("dataset", "image_folder", options, registry=registry)


@pytest.mark.skipif(importlib.util.find_spec("av") is None, reason="needs PyAV")
def test_video_files_dataset_passes_the_kit(registry, tmp_path: Path):
    for k in range(3):
        make_video(tmp_path / "videos" / f"{k}.mp4", 8, size=(16, 16))
    options = registry.get("dataset", "video_files").options(root=str(tmp_path / "videos"))
    check_component("dataset", "video_files", options, registry=registry)


TASK_RECIPE = """
experiment = "kit"
seed = 0
device = "cpu"
runs_root = "{runs}"

[task]
{task}

[data]
{data}

[model]
name = "kit_tiny"

[loss]
{loss}

[train]
batch_size = 2
max_steps = 1

[eval]
batch_size = 2
metrics = []
num_images = 2

[tracker]
name = "none"
"""

SHAPES = 'name = "moving_shapes"\nsize = 16\nnum_train = 8\nnum_eval = 4'


@pytest.mark.parametrize(
    ("task", "data", "loss"),
    [
        ('name = "interpolate"', SHAPES, 'name = "pixel"'),
        ('name = "interpolate"\nmode = "diffusion"\nsample_steps = 2', SHAPES, 'name = "diffusion"'),
        (
            'name = "generate"\nsample_steps = 2\nnum_samples = 2',
            'name = "digits"\nsize = 8',
            'name = "diffusion"\ntarget = "v"',
        ),
    ],
    ids=["interpolate-regression", "interpolate-diffusion", "generate"],
)
def test_core_tasks_pass_the_kit(registry, tmp_path: Path, task: str, data: str, loss: str):
    recipe = TASK_RECIPE.format(runs=tmp_path / "runs", task=task, data=data, loss=loss)
    check_task(recipe, registry=registry)
