"""Movies of a trained run: frames of the denoising trajectory, written as GIF or MP4.

- generation: per sampling step, a grid of x_t beside a grid of the predicted x0;
- interpolation by diffusion: per step, one row per eval clip of context | x_t | predicted | target;
- interpolation by regression: the eval clips played back, the prediction beside the true middle frame.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from dvcore.track.images import grid


def sampling_movie_frames(
    task: Any, model: Any, *, num: int, sampler: Any, num_steps: int | None, seed: int, scale: int
) -> list[np.ndarray]:
    """Generated images: x_t | predicted x0 of ``num`` samples, every step (``GenerateTask.movie_frames``)."""
    from dvcore.seeding import image_generator

    result = task.sample(
        model,
        num,
        generator=[image_generator(seed, i) for i in range(num)],
        sampler=sampler,
        num_steps=num_steps,
        record=True,
    )
    return trajectory_frames(result.trajectory, result.timesteps, scale=scale)


def interpolation_movie_frames(
    task: Any, model: Any, *, num: int, sampler: Any, num_steps: int | None, seed: int, scale: int
) -> list[np.ndarray]:
    """Eval clips: the diffusion trajectory of the middle frame, or (regression) the clips played back.

    ``InterpolateTask.movie_frames``.
    """
    from dvcore.tasks.interpolate import split_clip

    eval_set = task.datasets()["eval"]
    frames = torch.stack([eval_set[i]["frames"] for i in range(min(num, len(eval_set)))])  # (R, N, C, H, W)
    context, target = split_clip(frames)
    with torch.no_grad():
        if task.diffusion is None:
            return interpolation_playback_frames(frames, task.predict(model, context).clamp(0, 1), scale)
        generator = torch.Generator().manual_seed(seed)
        result = task.sample_middle(
            model, context, generator=generator, sampler=sampler, num_steps=num_steps, record=True
        )
    return interpolation_trajectory_frames(context, result.trajectory, target, result.timesteps, scale)


def frames_as_images(frames: list[np.ndarray]) -> list[dict[str, torch.Tensor]]:
    """(H, W, 3) uint8 frames -> one ``{"trajectory": (3, H, W) in [0, 1]}`` per frame, for a tracker."""
    return [{"trajectory": torch.from_numpy(f.copy()).permute(2, 0, 1) / 255.0} for f in frames]


def trajectory_frames(trajectory: Any, timesteps: torch.Tensor, scale: int = 1) -> list[np.ndarray]:
    """One (H, W, 3) uint8 frame per step: a grid of x_t | a grid of predicted x0, labelled."""
    frames = []
    for k, step in enumerate(trajectory):
        n = step.x_t.shape[0]
        nrow = math.ceil(math.sqrt(n))
        left = _rgb(grid(step.x_t, nrow=nrow))  # (3, H', W')
        right = _rgb(grid(step.pred_x0, nrow=nrow))
        gap = torch.ones(3, left.shape[1], 4)
        panel = torch.cat([left, gap, right], dim=2)  # (3, H', 2W'+4)
        label = f"step {k + 1}/{len(trajectory)}  t={float(timesteps[k]):.0f}   x_t | predicted x0"
        frames.append(_labelled(panel, label, scale))
    return frames


def _rgb(image: torch.Tensor) -> torch.Tensor:
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def _labelled(panel: torch.Tensor, label: str, scale: int) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H*scale + 14, W*scale, 3) uint8 with a caption strip on top."""
    array = (panel.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    image = Image.fromarray(array)
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (max(image.width, 8 * len(label) // 2), image.height + 14), "white")
    canvas.paste(image, (0, 14))
    ImageDraw.Draw(canvas).text((2, 1), label, fill="black", font=ImageFont.load_default())
    return np.asarray(canvas)


def write_gif(frames: list[np.ndarray], path: Path, fps: float) -> None:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def write_mp4(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """H.264 via PyAV (pip install 'dvcore[video]'); sizes are padded to even numbers for yuv420p."""
    try:
        import av
    except ImportError as exc:
        raise RuntimeError(
            "writing MP4 needs PyAV: pip install 'dvcore[video]' (or use --out movie.gif)"
        ) from exc
    h, w = frames[0].shape[:2]
    h2, w2 = h + h % 2, w + w % 2
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        for f in frames:
            padded = np.full((h2, w2, 3), 255, dtype=np.uint8)
            padded[:h, :w] = f
            for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def interpolation_trajectory_frames(
    context: torch.Tensor, trajectory: Any, target: torch.Tensor, timesteps: torch.Tensor, scale: int = 1
) -> list[np.ndarray]:
    """Diffusion interpolation: per step, one row per clip of context frames | x_t | predicted x0 | target."""
    frames = []
    for k, step in enumerate(trajectory):
        rows = torch.cat(
            [context, step.x_t[:, None], step.pred_x0[:, None], target[:, None]], dim=1
        )  # (R, N+2, C, H, W)
        step_of = f"step {k + 1}/{len(trajectory)}  t={float(timesteps[k]):.0f}"
        label = f"{step_of}   context | x_t | predicted | target"
        frames.append(_labelled(_rows_grid(rows), label, scale))
    return frames


def interpolation_playback_frames(
    frames: torch.Tensor, prediction: torch.Tensor, scale: int = 1
) -> list[np.ndarray]:
    """Regression interpolation: the clips played in time order, predicted middle frame (left) vs the truth
    (right).
    """
    n = frames.shape[1]
    out = []
    for k in range(n):
        shown = prediction if k == n // 2 else frames[:, k]  # (R, C, H, W)
        rows = torch.stack([shown, frames[:, k]], dim=1)  # (R, 2, C, H, W)
        tag = "predicted | true middle frame" if k == n // 2 else "context frame | context frame"
        out.append(_labelled(_rows_grid(rows), f"frame {k + 1}/{n}   {tag}", scale))
    return out


def _rows_grid(rows: torch.Tensor) -> torch.Tensor:
    r, k, c, h, w = rows.shape
    return _rgb(grid(rows.reshape(r * k, c, h, w).float().clamp(0, 1), nrow=k))
