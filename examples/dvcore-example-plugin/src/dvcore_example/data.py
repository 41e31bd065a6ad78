"""example_drift: clips of a smooth random colour field drifting at constant speed.

Each clip is a pure function of (seed, split, index): a low-frequency random field (a few
random sinusoids per channel) shifted by (vy, vx) pixels per frame, so the next frame
follows from the previous ones and a model can learn to extrapolate it.
"""

from __future__ import annotations

import math

import torch

from dvcore_example.options import DriftOptions


class Drift:
    """A map-style dataset: ``dataset[i] = {"frames": (N, 3, H, W) float32 in [0, 1]}``."""

    def __init__(self, options: DriftOptions, split: str, seed: int):
        self.options, self.seed = options, seed
        self.count = options.num_train if split == "train" else options.num_eval
        self.offset = 0 if split == "train" else options.num_train  # eval clips are never train clips

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        o = self.options
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.offset + index)
        waves = 3
        freq = (torch.rand(3, waves, 2, generator=g) - 0.5) * 2 * math.pi / 8  # (3, waves, 2) rad/pixel
        phase = torch.rand(3, waves, generator=g) * 2 * math.pi  # (3, waves)
        velocity = (torch.rand(2, generator=g) * 2 - 1) * o.speed  # (2,) pixels per frame, y and x
        ys, xs = torch.meshgrid(torch.arange(o.size), torch.arange(o.size), indexing="ij")  # (H, W) x2
        frames = []
        for k in range(o.num_frames):
            y, x = ys - k * velocity[0], xs - k * velocity[1]  # the field moves by +k*velocity
            arg = freq[..., 0, None, None] * y + freq[..., 1, None, None] * x + phase[..., None, None]
            field = torch.sin(arg).mean(dim=1)  # (3, H, W) in [-1, 1]
            frames.append(0.5 + 0.5 * field)
        return {"frames": torch.stack(frames).float()}  # (N, 3, H, W)


def build_drift(options: DriftOptions, *, split: str, seed: int) -> Drift:
    """Clips of smooth random colour fields drifting at constant speed."""
    return Drift(options, split, seed)
