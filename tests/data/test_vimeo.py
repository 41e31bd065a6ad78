"""vimeo_septuplet: im4-centred clips in order, the two lists, full-frame eval, and clear layout errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dvcore.cli import main
from dvcore.data.vimeo import VimeoSeptupletOptions, build_vimeo_septuplet
from dvcore.errors import RecipeError
from dvcore.recipe import DatasetSection, structure
from dvcore.registry import Component, Registry
from dvcore.testing.fixtures import clip_code, frame_codes, make_vimeo

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "vimeo_interp_n5.toml"
TRAIN = ["00001/0001", "00001/0002", "00002/0001"]
TEST = ["00003/0001", "00003/0002"]


@pytest.fixture
def vimeo(tmp_path) -> Path:
    return make_vimeo(tmp_path / "vimeo", TRAIN, TEST)


def problems(section: dict) -> list[str]:
    registry = Registry()
    registry.add(Component("dataset", "vimeo_septuplet", build_vimeo_septuplet, VimeoSeptupletOptions))
    with pytest.raises(RecipeError) as error:
        structure({"name": "vimeo_septuplet", **section}, registry, DatasetSection)
    return error.value.problems


def test_n5_is_im2_to_im6_in_order_and_n3_n7_centre_on_im4(vimeo):
    clip = build_vimeo_septuplet(VimeoSeptupletOptions(root=str(vimeo)), split="train", seed=0)[0]["frames"]
    assert clip.shape == (5, 3, 16, 24) and clip.dtype == torch.float32
    assert frame_codes(clip) == [2, 3, 4, 5, 6]  # the task withholds the middle one, im4
    for n, expected in ((3, [3, 4, 5]), (7, [1, 2, 3, 4, 5, 6, 7])):
        options = VimeoSeptupletOptions(root=str(vimeo), num_frames=n)
        assert frame_codes(build_vimeo_septuplet(options, split="eval", seed=0)[1]["frames"]) == expected


def test_channels_are_rgb_in_unit_range(vimeo):
    clip = build_vimeo_septuplet(VimeoSeptupletOptions(root=str(vimeo)), split="train", seed=0)[2]["frames"]
    assert torch.allclose(clip[0, 0], torch.full((16, 24), 60 / 255))  # red = 30 * frame number (im2)
    assert torch.allclose(clip[0, 1], torch.full((16, 24), 20 / 255))  # green = 10 * clip number
    assert clip[0, 2, 1, 2] == pytest.approx((3 * 2 + 7 * 1) / 255)  # blue ramp at y=1, x=2
    assert float(clip.min()) >= 0.0 and float(clip.max()) <= 1.0


def test_train_reads_the_train_list_and_eval_the_test_list(vimeo):
    options = VimeoSeptupletOptions(root=str(vimeo))
    train = build_vimeo_septuplet(options, split="train", seed=0)
    evaluation = build_vimeo_septuplet(options, split="eval", seed=0)
    assert [clip_code(train[i]["frames"]) for i in range(len(train))] == [0, 1, 2]
    assert [clip_code(evaluation[i]["frames"]) for i in range(len(evaluation))] == [3, 4]


def test_train_crops_are_random_windows_and_eval_is_the_full_frame(vimeo):
    options = VimeoSeptupletOptions(root=str(vimeo), crop=[8, 12], hflip=True, time_reverse=True)
    train = build_vimeo_septuplet(options, split="train", seed=0)
    plain = build_vimeo_septuplet(VimeoSeptupletOptions(root=str(vimeo)), split="train", seed=0)
    crops = [train[0]["frames"] for _ in range(2)]
    assert crops[0].shape == (5, 3, 8, 12) and torch.equal(crops[0], crops[1])  # seeded per sample
    full = plain[0]["frames"]
    found = any(
        torch.equal(view[..., y : y + 8, x : x + 12], crops[0])
        for view in (full, full.flip(-1), full.flip(0), full.flip(0).flip(-1))
        for y in range(9)
        for x in range(13)
    )
    assert found  # the crop is a window of the (possibly flipped / reversed) clip
    evaluation = build_vimeo_septuplet(options, split="eval", seed=0)
    assert evaluation[0]["frames"].shape == (5, 3, 16, 24)  # never cropped or flipped
    assert frame_codes(evaluation[0]["frames"]) == [2, 3, 4, 5, 6]


def test_missing_frame_skips_the_clip_and_is_counted(vimeo, capsys):
    (vimeo / "sequences" / TRAIN[1] / "im5.png").unlink()
    train = build_vimeo_septuplet(VimeoSeptupletOptions(root=str(vimeo)), split="train", seed=0)
    assert clip_code(train[1]["frames"]) == 2 and clip_code(train[1]["frames"]) == 2  # the next clip
    assert train.num_corrupt == 1 and train.corrupt_files[0].endswith("00001/0002/im5.png")
    assert capsys.readouterr().err.count("skipping unreadable file") == 1  # logged once


def test_layout_problems_are_one_line_each(tmp_path, vimeo):
    missing = tmp_path / "nowhere"
    assert problems({"root": str(missing)}) == [f"root: path does not exist: '{missing}'"]
    assert problems({"root": str(tmp_path)}) == [
        f"root: expected the Vimeo-90K layout sequences/XXXXX/YYYY/im1.png..im7.png, "
        f"but '{tmp_path}' has no sequences folder"
    ]
    (vimeo / "sep_trainlist.txt").unlink()
    (vimeo / "sep_testlist.txt").write_text("00003/0001\n00009/0001\n00009/0002\n\n")
    assert problems({"root": str(vimeo), "crop": [300, 64]}) == [
        "crop: expected at most the frame size [256, 448], got [300, 64]",
        f"eval_list: sep_testlist.txt lists 2 clips that do not exist in '{vimeo / 'sequences'}', e.g. "
        "00009/0001",
        f"train_list: list file does not exist: '{vimeo / 'sep_trainlist.txt'}'",
    ]


def test_validate_explains_the_missing_dataset_and_passes_on_real_data(vimeo):
    pytest.importorskip("dvcore_interp")  # the recipe's backbone
    result = CliRunner().invoke(main, ["validate", str(RECIPE)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "data.root: path does not exist: '/data/vimeo_septuplet'",
        f"dvcore: 1 problem in {RECIPE}; nothing was run",
    ]
    result = CliRunner().invoke(
        main,
        # the 3-clip fixture is smaller than the recipe's GPU batch, which validation refuses
        [
            "validate",
            str(RECIPE),
            "--set",
            f"data.root={vimeo}",
            "--set",
            "data.crop=[8,8]",
            "--set",
            "train.batch_size=2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "samples (5, 3, 8, 8)" in result.output and "train 3, eval 2" in result.output
