"""Shared pytest fixtures and helpers for dvcore's tests and plugin tests.

- ``one_thread`` (autouse where imported): tiny tensors run faster on one intra-op thread, and far
  faster on a loaded machine (no spin-waiting); the thread count is restored afterwards.
- ``Recording``: a tracker that keeps what it is given, for assertions.
- ``perturbed``: a model whose zero-initialised layers got random weights (tests of every path);
  ``toy_training_losses``: a backbone's losses over a few steps on a toy target (it learns).
- Tiny on-disk datasets with each frame's identity written into its pixels: image frames have
  red = 30 * frame number, green = 10 * clip number, blue = a diagonal ramp (3x + 7y) that shows
  flips; video frames are grey (codecs subsample chroma) at 10 * frame index, so a decoded frame
  names itself to within rounding.

Use: in a conftest.py, ``from dvcore.testing.fixtures import one_thread  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from dvcore.track.base import Tracker


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Run the test on one intra-op thread; restore the thread count afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``model`` with its zero-initialised tensors given random weights, so every path contributes."""
    torch.manual_seed(seed)
    for p in model.parameters():
        if not p.any():
            torch.nn.init.normal_(p, std=0.1)
    return model


def toy_training_losses(model: torch.nn.Module, steps: int = 30, lr: float = 3e-3) -> list[float]:
    """Losses of ``steps`` Adam steps of a backbone on a toy target that depends on x and on t.

    Four 3-channel 8x8 inputs from the global RNG (seed it first) at t = 0, 250, 500, 999; the
    target is x with its channels rolled, scaled by t / 1000.
    """
    x = torch.randn(4, 3, 8, 8)
    t = torch.tensor([0.0, 250.0, 500.0, 999.0])
    target = x.roll(1, dims=1) * (t / 1000)[:, None, None, None]  # (4, 3, 8, 8), depends on x and on t
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = (model(x, t) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


class Recording(Tracker):
    """A tracker that records scalars and images: ``scalars`` holds (step, context, values)."""

    def __init__(self) -> None:
        self.scalars: list[tuple[int, str, dict[str, Any]]] = []
        self.images: list[tuple[int, dict[str, Any]]] = []

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None:
        self.scalars.append((step, context, dict(values)))

    def log_images(self, images: dict[str, torch.Tensor], step: int, context: str = "eval") -> None:
        self.images.append((step, dict(images)))


# ----------------------------------------------------------------------------------------------
# Tiny on-disk data
# ----------------------------------------------------------------------------------------------


def frame_pixels(clip: int, frame: int, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: red codes the frame, green the clip, blue a ramp over x and y."""
    y, x = np.mgrid[0:height, 0:width]
    out = np.empty((height, width, 3), np.uint8)
    out[..., 0] = 30 * frame
    out[..., 1] = 10 * clip
    out[..., 2] = (3 * x + 7 * y) % 256
    return out


def write_image(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def frame_codes(frames: torch.Tensor) -> list[int]:
    """(N, 3, H, W) in [0, 1] -> the frame number of each frame (red / 30)."""
    return [round(float(f[0].mean()) * 255 / 30) for f in frames]


def clip_code(frames: torch.Tensor) -> int:
    """The clip number (green / 10)."""
    return round(float(frames[..., 1, :, :].mean()) * 255 / 10)


def make_vimeo(root: Path, train: list[str], test: list[str], size: tuple[int, int] = (16, 24)) -> Path:
    """sequences/XXXXX/YYYY/im1..im7.png for every listed clip (clip number = position in train + test)."""
    for number, clip in enumerate(train + test):
        for k in range(1, 8):
            write_image(root / "sequences" / clip / f"im{k}.png", frame_pixels(number, k, *size))
    (root / "sep_trainlist.txt").write_text("\n".join(train) + "\n")
    (root / "sep_testlist.txt").write_text("\n".join(test) + "\n")
    return root


def make_frame_folders(
    root: Path, lengths: dict[str, int], size: tuple[int, int] = (12, 16), pattern: str = "{:04d}.png"
) -> Path:
    """One folder per entry, ``length`` frames named by ``pattern`` (frame numbers from 0); clip number =
    order.
    """
    for number, (name, length) in enumerate(lengths.items()):
        for k in range(length):
            write_image(root / name / pattern.format(k), frame_pixels(number, k, *size))
    return root


def make_video(
    path: Path, num_frames: int, size: tuple[int, int] = (32, 48), codec: str = "libx264", gop: int = 4
) -> Path:
    """A video of grey frames at 10 * index, a keyframe every ``gop`` frames at most, and B-frames where
    the encoder makes them (mpeg4 does: its packets come out of presentation order)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(codec, rate=25)  # a video stream (av types it by codec name)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = 2
        if codec == "libx264":
            stream.options = {"crf": "1"}
        else:
            stream.bit_rate = 8_000_000
        for k in range(num_frames):
            pixels = np.full((*size, 3), 10 * k, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def video_codes(frames: torch.Tensor) -> list[int]:
    """(N, 3, H, W) grey video frames -> their frame indices (value / 10)."""
    return [round(float(f.mean()) * 255 / 10) for f in frames]
