"""`dvcore eval gen` and `dvcore eval stats` through the registry's set-level metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dvcore import plugins
from dvcore.cli import main


@pytest.fixture
def metrics_plugin(fresh_plugins):
    registry = plugins.load().registry
    if ("metric", "fid") not in registry:
        pytest.skip("the dvcore-metrics plugin is not installed")
    return registry


def write_folder(folder, n, shift, seed):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(n):
        array = np.clip(rng.normal(0.5 + shift, 0.2, (16, 16, 3)), 0, 1)
        Image.fromarray((array * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")


def test_reference_statistics_give_the_same_scores_as_the_images(metrics_plugin, tmp_path, monkeypatch):
    monkeypatch.delenv("DVCORE_FID_WEIGHTS", raising=False)
    write_folder(tmp_path / "real", 24, 0.0, 0)
    write_folder(tmp_path / "fake", 20, 0.15, 1)
    runner = CliRunner()
    stats = runner.invoke(
        main,
        [
            "eval",
            "stats",
            str(tmp_path / "real"),
            "--out",
            str(tmp_path / "ref.npz"),
            "--metric",
            "kid",
            "--features",
            "random_conv",
        ],
    )
    assert stats.exit_code == 0, stats.output
    assert "reference statistics of 24 images" in stats.output
    common = [
        "eval",
        "gen",
        str(tmp_path / "fake"),
        "--features",
        "random_conv",
        "--metric",
        "fid",
        "--metric",
        "kid",
        "--json",
    ]
    from_images = json.loads(runner.invoke(main, [*common, "--ref", str(tmp_path / "real")]).output)
    from_stats = json.loads(runner.invoke(main, [*common, "--ref", str(tmp_path / "ref.npz")]).output)
    assert from_images["fid"] == pytest.approx(from_stats["fid"], rel=1e-6)
    assert from_images["kid"] == pytest.approx(from_stats["kid"], rel=1e-6)
    same = json.loads(
        runner.invoke(
            main, [*common[:2], str(tmp_path / "real"), *common[3:], "--ref", str(tmp_path / "ref.npz")]
        ).output
    )
    assert same["fid"] < 1e-6 < from_images["fid"]


def test_missing_inception_weights_exit_2_naming_the_file(metrics_plugin, tmp_path, monkeypatch):
    monkeypatch.delenv("DVCORE_FID_WEIGHTS", raising=False)
    write_folder(tmp_path / "real", 2, 0.0, 0)
    result = CliRunner().invoke(
        main, ["eval", "gen", str(tmp_path / "real"), "--ref", str(tmp_path / "real")]
    )
    assert result.exit_code == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in result.output
    assert "DVCORE_FID_WEIGHTS" in result.output
    assert "Traceback" not in result.output


def test_missing_sample_folder_exit_2(metrics_plugin, tmp_path):
    result = CliRunner().invoke(
        main, ["eval", "gen", str(tmp_path / "nope"), "--ref", str(tmp_path / "nope2")]
    )
    assert result.exit_code == 2
    assert f"SAMPLES: path does not exist: '{tmp_path / 'nope'}'" in result.output
