"""`dvcore sample` and `dvcore movie` on a (tiny) trained generate run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import execute

pytest.importorskip("sklearn")

GENERATE = """
experiment = "gen"
device = "cpu"
runs_root = "RUNS"
[task]
name = "generate"
sample_steps = 4
num_samples = 4
[data]
name = "digits"
size = 16
[model]
name = "tiny_conv"
width = 8
[loss]
name = "diffusion"
[schedule]
name = "linear"
num_train_timesteps = 100
[sampler]
name = "ddpm"
[train]
batch_size = 8
max_steps = 3
num_workers = 0
prefetch = 0
warmup_steps = 0
[train.ema]
decay = 0.9
[eval]
max_samples = 16
[tracker]
name = "none"
"""


@pytest.fixture
def trained_run(testplug, tmp_path) -> Path:
    path = tmp_path / "gen.toml"
    path.write_text(GENERATE.replace("RUNS", str(tmp_path / "runs")))
    registry = plugins.load().registry
    execute(recipes.load(path, [], registry), registry, run_dir=tmp_path / "run", progress=False)
    return tmp_path / "run"


def pixels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_image_i_does_not_depend_on_batch_size_and_jobs_resume(trained_run, tmp_path):
    runner = CliRunner()
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["sample", str(trained_run), "--num", "5", "--steps", "3", "--device", "cpu"]
    assert runner.invoke(main, [*common, "--batch-size", "4", "--out", str(a)]).exit_code == 0
    assert runner.invoke(main, [*common, "--batch-size", "2", "--out", str(b), "--npz"]).exit_code == 0
    first, second = pixels(a), pixels(b)
    assert list(first) == [f"{i:06d}.png" for i in range(5)]
    assert all(np.array_equal(first[k], second[k]) for k in first)  # ddpm: step noise per image too
    assert len({first[k].tobytes() for k in first}) == 5
    assert np.load(b / "samples.npz")["arr_0"].shape == (5, 16, 16, 1)
    # an interrupted job: two images missing -> only those two are written, identical to before
    (a / "000001.png").unlink()
    (a / "000003.png").unlink()
    before = {k: os.stat(a / k).st_mtime_ns for k in ("000000.png", "000002.png", "000004.png")}
    result = runner.invoke(main, [*common, "--batch-size", "4", "--out", str(a)])
    assert "2 written now" in result.output
    assert {k: os.stat(a / k).st_mtime_ns for k in before} == before
    assert all(np.array_equal(v, first[k]) for k, v in pixels(a).items())


def test_sample_with_another_sampler_and_eta(trained_run, tmp_path):
    out = tmp_path / "ddim"
    result = CliRunner().invoke(
        main,
        [
            "sample",
            str(trained_run),
            "--num",
            "2",
            "--sampler",
            "ddim",
            "--eta",
            "0.5",
            "--steps",
            "2",
            "--out",
            str(out),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.png"))) == 2
    bad = CliRunner().invoke(
        main,
        ["sample", str(trained_run), "--num", "2", "--sampler", "euler", "--eta", "0.5", "--out", str(out)],
    )
    assert bad.exit_code == 2 and "eta: unknown key" in bad.output


def test_sample_refuses_a_run_without_ema_when_asked(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "copy")
    result = CliRunner().invoke(
        main, ["sample", str(tmp_path / "nope"), "--num", "1", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_movie_has_one_frame_per_step_in_gif_and_mp4(trained_run, tmp_path):
    gif, mp4 = tmp_path / "m.gif", tmp_path / "m.mp4"
    result = CliRunner().invoke(
        main,
        [
            "movie",
            str(trained_run),
            "--num",
            "4",
            "--steps",
            "6",
            "--out",
            str(gif),
            "--out",
            str(mp4),
            "--no-track",
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(gif).n_frames == 6
    av = pytest.importorskip("av")
    with av.open(str(mp4)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6


@pytest.mark.slow
def test_two_processes_write_the_same_images_as_one(trained_run, tmp_path, testplug):
    env = {**os.environ, "PYTHONPATH": str(testplug), "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    args = ["sample", str(trained_run), "-n", "5", "--steps", "3", "--batch-size", "2", "--device", "cpu"]
    subprocess.run(
        [sys.executable, "-m", "dvcore.cli", *args, "--out", str(one)],
        env=env,
        check=True,
        capture_output=True,
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "dvcore.cli", *args, "--out", str(two)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = pixels(one), pixels(two)
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
