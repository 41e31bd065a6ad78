"""moving_shapes: synthetic clips of textured shapes moving over a textured background.

A built-in dataset for frame interpolation that needs no files. Each clip is
rendered on the fly from its own ``torch.Generator``, seeded by a hash of
(seed, split, index), so a clip is a pure function of those three and the
options; the train and eval splits draw from different seed streams.

What a clip holds, and why:

- 1..max_shapes shapes (circle, ellipse, square, rectangle, triangle), each with a
  texture that moves and turns with it (stripes, checker, gradient, two random
  colours), stacked in index order (shape 0 at the back).
- Motion with sub-pixel velocity, constant acceleration and rotation, written as a
  function of continuous time, so every frame is exact (no accumulated steps).
- A smooth random colour field behind them (a few low-frequency sinusoids per
  channel), optionally panning.
- Anti-aliased edges: coverage is ``clamp(0.5 - d, 0, 1)`` of the signed distance d
  in pixels, a linear ramp one pixel wide, which is the box-filtered coverage of a
  straight edge. So a motion of 0.3 px changes the frame by 0.3 px worth.

Textures and fast motion make the blend of the two neighbours of the middle frame
a ghosted, poor guess, while the smooth motion over N frames keeps the middle
frame predictable from its context. Measured with the defaults at 32x32 over 200
eval clips (seed 0): frame N//2 - 1 copied scores 21.8 dB PSNR against the middle
frame, the blend of frames N//2 - 1 and N//2 + 1 25.0 dB (see ``baseline_psnr``).
One thread renders ~700 clips of 5x32x32 per second on a busy 2-core machine (some
330 small torch ops a clip). Clips are tiny, so run the renderers with one
intra-op thread each (``torch.set_num_threads(1)`` in worker processes): parallel
sin/cos/sqrt on a few hundred elements only adds overhead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import torch

from dvcore.data.clips import clip_index
from dvcore.options import ge, gt, odd, opt, range_opt, range_problems
from dvcore.seeding import seed_from

SPLITS = ("train", "eval")
# A circle and a square are an ellipse and a rectangle with equal half-axes.
SHAPE_KINDS = ("circle", "ellipse", "square", "rectangle", "triangle")
TEXTURE_KINDS = ("stripes", "checker", "gradient")

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class MovingShapesOptions:
    """Synthetic clips of textured shapes moving over a textured background."""

    size: int = opt(32, "frame height and width in pixels (square frames)", ge(8))
    height: int | None = opt(None, "frame height in pixels; unset = size", ge(8))
    width: int | None = opt(None, "frame width in pixels; unset = size", ge(8))
    num_frames: int = opt(5, "frames per clip (odd: the middle one is the target)", ge(3), odd)
    speed: list[float] = range_opt([0.5, 2.5], "shape speed in pixels/frame", ge(0))
    acceleration: float = opt(0.25, "max shape acceleration in pixels/frame^2", ge(0))
    rotation: float = opt(10.0, "max shape rotation in degrees/frame", ge(0))
    max_shapes: int = opt(4, "shapes per clip are 1..max_shapes", ge(1))
    num_train: int = opt(20_000, "clips in the train split", gt(0))
    num_eval: int = opt(1_000, "clips in the eval split", gt(0))
    eval_seed: int | None = opt(
        None, "seed of the eval clips; unset = the recipe's seed (set it to compare runs across seeds)", ge(0)
    )
    background_motion: bool = opt(True, "pan the background by up to max(speed)/4 pixels/frame")

    def problems(self) -> Iterable[tuple[str, str]]:
        """Checks that span the speed range."""
        yield from range_problems("speed", self.speed)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.height or self.size, self.width or self.size)


# ----------------------------------------------------------------------------------------------
# Signed distances (pixels; negative inside) in each shape's own rotated frame
# ----------------------------------------------------------------------------------------------


def sdf_ellipse(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Ellipse with half-axes a, b; exact for a circle, first-order elsewhere (|grad| = 1 on the edge)."""
    k0 = torch.sqrt((u / a) ** 2 + (v / b) ** 2)
    k1 = torch.sqrt((u / a**2) ** 2 + (v / b**2) ** 2)
    centre = -torch.minimum(a, b).expand_as(k0)  # the limit at the centre, where k0 = k1 = 0
    return torch.where(k1 > 1e-6, k0 * (k0 - 1) / k1.clamp_min(1e-6), centre)


def sdf_box(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Rectangle with half-sides a, b (exact)."""
    qx, qy = u.abs() - a, v.abs() - b
    outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
    return outside + torch.maximum(qx, qy).clamp_max(0)


def sdf_triangle(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Equilateral triangle with circumradius a: the farthest of its three edge half-planes."""
    normals = (math.pi / 2, 7 * math.pi / 6, 11 * math.pi / 6)
    edges = [u * math.cos(angle) + v * math.sin(angle) for angle in normals]
    return torch.maximum(torch.maximum(edges[0], edges[1]), edges[2]) - a / 2


# ----------------------------------------------------------------------------------------------
# Scene: every random number of one clip, drawn from its generator
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class Scene:
    """The parameters of one clip; lengths are in pixels, angles in radians, time in frames."""

    kind: torch.Tensor  # (S,) index into SHAPE_KINDS, S = the shapes shown
    half_axes: torch.Tensor  # (S, 2) a, b; a triangle's circumradius is a
    centre: torch.Tensor  # (S, 2) x, y at the middle frame (t = 0)
    velocity: torch.Tensor  # (S, 2)
    acceleration: torch.Tensor  # (S, 2)
    angle: torch.Tensor  # (S,) at t = 0
    spin: torch.Tensor  # (S,) per frame
    colours: torch.Tensor  # (S, 2, 3) the two colours each texture mixes
    texture_angle: torch.Tensor  # (S,) direction of stripes, checks and gradients
    texture_frequency: torch.Tensor  # (S, 2) radians per pixel along and across that direction
    texture_phase: torch.Tensor  # (S, 2)
    texture_sharpness: torch.Tensor  # (S,) 0 keeps a sine's ramp, 1 flattens its peaks
    background_base: torch.Tensor  # (3,)
    wave_amplitude: torch.Tensor  # (K, 3)
    wave_vector: torch.Tensor  # (K, 2) radians per pixel
    wave_phase: torch.Tensor  # (K,)
    background_velocity: torch.Tensor  # (2,)


def _shape_ranges(options: MovingShapesOptions) -> list[tuple[float, float]]:
    """Uniform ranges of the per-shape draws, in the order ``sample_scene`` unpacks them."""
    return [
        (0.10, 0.25),  # size: half-axis a as a fraction of the shorter frame side
        (0.4, 0.9),  # aspect: b / a of ellipses and rectangles
        (0.1, 0.9),  # x of the centre at t = 0, as a fraction of the width
        (0.1, 0.9),  # y, as a fraction of the height
        (options.speed[0], options.speed[1]),  # speed, pixels/frame
        (0.0, 2 * math.pi),  # heading
        (0.0, options.acceleration),  # acceleration, pixels/frame^2
        (0.0, 2 * math.pi),  # its direction
        (0.0, 2 * math.pi),  # angle at t = 0
        (-math.radians(options.rotation), math.radians(options.rotation)),  # spin, radians/frame
        (0.6, 1.2),  # texture period as a fraction of the shorter half-axis
        (0.0, math.pi),  # texture direction
        (0.0, 2 * math.pi),  # texture phase along
        (0.0, 2 * math.pi),  # texture phase across
    ]


def _polar(magnitude: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Vectors from magnitudes and directions: (S,), (S,) -> (S, 2)."""
    return torch.stack([direction.cos(), direction.sin()], dim=-1) * magnitude[..., None]


def sample_scene(g: torch.Generator, options: MovingShapesOptions, num_waves: int = 4) -> Scene:
    """Draw one clip's parameters; the number of draws is fixed, so clips never shift each other."""
    height, width = options.frame_size
    side = min(height, width)
    s = options.max_shapes
    # Draws: max_shapes of everything, whatever the count, then the background.
    count = int(torch.randint(1, s + 1, (1,), generator=g))
    kind = torch.randint(0, len(SHAPE_KINDS), (s,), generator=g)[:count]
    texture = torch.randint(0, len(TEXTURE_KINDS), (s,), generator=g)[:count]
    low, high = torch.tensor(_shape_ranges(options)).T  # (P,), (P,)
    draws = (low + (high - low) * torch.rand(s, len(low), generator=g))[:count]  # (S, P)
    colours = torch.rand(s, 2, 3, generator=g)[:count]  # (S, 2, 3)
    waves = torch.rand(num_waves, 6, generator=g)  # (K, 6)
    pan = torch.rand(5, generator=g)  # (5,)
    (size, aspect, x, y, speed, heading, accel, accel_heading, angle, spin, period, tex_angle, *phase) = (
        draws.unbind(-1)
    )

    round_or_square = (kind == 0) | (kind == 2) | (kind == 4)
    a = size * side
    b = torch.where(round_or_square, a, a * aspect)
    period = (torch.minimum(a, b) * period).clamp_min(3.0)  # >= 3 px: the textures do not alias
    a = torch.where(kind == 4, a * 1.3, a)  # a triangle's circumradius; its area then matches the others

    # Textures are one formula, a product of sines along and across a direction, peaks flattened:
    # stripes leave the second sine at 1, checks use both, a gradient is a quarter sine across the shape.
    stripes, checker, gradient = (texture == i for i in range(3))
    reach = torch.hypot(a, b)  # no point of the shape is farther from its centre
    f0 = torch.where(gradient, math.pi / 2 / reach, 2 * math.pi / period)
    f1 = torch.where(checker, 2 * math.pi / period, torch.zeros_like(period))
    p0 = torch.where(gradient, torch.zeros_like(phase[0]), phase[0])
    p1 = torch.where(checker, phase[1], torch.full_like(phase[1], math.pi / 2))
    sharpness = (stripes | checker).float()

    # Background: K plane waves of 0.5..3 cycles per frame side on a base colour, panning at up
    # to max(speed) / 4 pixels/frame.
    wave_frequency = (0.5 + 2.5 * waves[:, 0]) * (2 * math.pi / side)
    pan_speed = pan[0] * options.speed[1] / 4 if options.background_motion else torch.zeros(())
    return Scene(
        kind=kind,
        half_axes=torch.stack([a, b], dim=-1),
        centre=torch.stack([x * width, y * height], dim=-1),
        velocity=_polar(speed, heading),
        acceleration=_polar(accel, accel_heading),
        angle=angle,
        spin=spin,
        colours=colours,
        texture_angle=tex_angle,
        texture_frequency=torch.stack([f0, f1], dim=-1),
        texture_phase=torch.stack([p0, p1], dim=-1),
        texture_sharpness=sharpness,
        background_base=0.2 + 0.6 * pan[2:5],
        wave_amplitude=0.4 * waves[:, 3:6] - 0.2,
        wave_vector=_polar(wave_frequency, 2 * math.pi * waves[:, 1]),
        wave_phase=2 * math.pi * waves[:, 2],
        background_velocity=_polar(pan_speed, 2 * math.pi * pan[1]),
    )


# ----------------------------------------------------------------------------------------------
# Rendering, vectorised over shapes, frames and pixels
# ----------------------------------------------------------------------------------------------


def plane_sine(k: torch.Tensor, phase: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """sin(kx x + ky y + phase) over the pixel grid: (..., 2), (...) -> (..., H, W).

    By angle addition, so only rows and columns take a sine; the grid takes products.
    """
    ax = k[..., 0, None] * xs + phase[..., None]  # (..., W)
    ay = k[..., 1, None] * ys  # (..., H)
    return ax.sin()[..., None, :] * ay.cos()[..., :, None] + ax.cos()[..., None, :] * ay.sin()[..., :, None]


def render_background(scene: Scene, t: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """The colour field at times t: (N,), pixel centres (W,), (H,) -> (N, 3, H, W)."""
    shift = t[:, None] * scene.background_velocity  # (N, 2)
    phase = scene.wave_phase - shift @ scene.wave_vector.T  # (N, K) the waves move with the pan
    waves = plane_sine(scene.wave_vector.expand(len(t), -1, -1), phase, xs, ys)  # (N, K, H, W)
    field = torch.einsum("nkhw,kc->nchw", waves, scene.wave_amplitude)  # (N, 3, H, W)
    return (field + scene.background_base[None, :, None, None]).clamp(0, 1)  # (N, 3, H, W)


def render_shapes(
    scene: Scene, t: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coverage (S, N, 1, H, W) and texture colour (S, N, 3, H, W) of every shape at times t."""
    centre = (
        scene.centre[:, None]
        + scene.velocity[:, None] * t[None, :, None]
        + 0.5 * scene.acceleration[:, None] * t[None, :, None] ** 2
    )  # (S, N, 2)
    angle = scene.angle[:, None] + scene.spin[:, None] * t[None, :]  # (S, N)
    cos, sin = angle.cos()[..., None, None], angle.sin()[..., None, None]  # (S, N, 1, 1)
    dx = xs[None, None, None, :] - centre[..., 0, None, None]  # (S, N, 1, W)
    dy = ys[None, None, :, None] - centre[..., 1, None, None]  # (S, N, H, 1)
    u = cos * dx + sin * dy  # (S, N, H, W) along the shape's own x axis
    v = cos * dy - sin * dx  # (S, N, H, W)

    def per_shape(x: torch.Tensor) -> torch.Tensor:
        return x.view(-1, 1, 1, 1)  # (S,) -> (S, 1, 1, 1)

    a, b, kind = per_shape(scene.half_axes[:, 0]), per_shape(scene.half_axes[:, 1]), per_shape(scene.kind)
    distance = torch.where(
        kind <= 1,
        sdf_ellipse(u, v, a, b),
        torch.where(kind <= 3, sdf_box(u, v, a, b), sdf_triangle(u, v, a)),
    )  # (S, N, H, W)
    coverage = (0.5 - distance).clamp(0, 1)  # (S, N, H, W) a one-pixel ramp across the edge

    # The texture is painted in a frame turned by texture_angle from the shape's own: plane waves
    # along and across it, with phases that follow the centre.
    direction = angle + scene.texture_angle[:, None]  # (S, N)
    along = torch.stack([direction.cos(), direction.sin()], dim=-1)  # (S, N, 2) unit vectors
    across = torch.stack([-direction.sin(), direction.cos()], dim=-1)  # (S, N, 2)
    k0 = scene.texture_frequency[:, None, 0, None] * along  # (S, N, 2)
    k1 = scene.texture_frequency[:, None, 1, None] * across  # (S, N, 2)
    p0 = scene.texture_phase[:, None, 0] - (k0 * centre).sum(-1)  # (S, N)
    p1 = scene.texture_phase[:, None, 1] - (k1 * centre).sum(-1)  # (S, N)
    wave = plane_sine(k0, p0, xs, ys) * plane_sine(k1, p1, xs, ys)  # (S, N, H, W) in [-1, 1]
    square = per_shape(scene.texture_sharpness) * (1 - wave**2)  # (S, N, H, W)
    mix = 0.5 + 0.5 * wave * (1 + 0.5 * square)  # (S, N, H, W) in [0, 1]: w (3 - w^2) / 2 flattens peaks
    first = scene.colours[:, None, 0, :, None, None]  # (S, 1, 3, 1, 1)
    second = scene.colours[:, None, 1, :, None, None]  # (S, 1, 3, 1, 1)
    colour = first + (second - first) * mix[:, :, None]  # (S, N, 3, H, W)
    return coverage[:, :, None], colour


def render(scene: Scene, t: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """The clip: shapes composited over the background in index order -> (N, 3, H, W) in [0, 1]."""
    frames = render_background(scene, t, xs, ys)  # (N, 3, H, W)
    coverage, colour = render_shapes(scene, t, xs, ys)  # (S, N, 1, H, W), (S, N, 3, H, W)
    for alpha, paint in zip(coverage, colour, strict=True):
        frames = frames + alpha * (paint - frames)  # (N, 3, H, W) "over": later shapes in front
    return frames.clamp(0, 1).contiguous()


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


def clip_seed(seed: int, split: str, index: int) -> int:
    """A 63-bit generator seed from (seed, split, index); the split keeps train and eval streams apart."""
    return seed_from("moving_shapes", split, seed, index)


class MovingShapes(Sequence[dict[str, torch.Tensor]]):
    """A map-style split of moving_shapes: ``dataset[i] -> {"frames": (N, 3, H, W)}``."""

    def __init__(self, options: MovingShapesOptions, *, split: str, seed: int):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        if split == "eval" and options.eval_seed is not None:
            seed = options.eval_seed  # the same eval clips whatever the training seed
        self.options, self.split, self.seed = options, split, seed
        self.length = options.num_train if split == "train" else options.num_eval
        height, width = options.frame_size
        n = options.num_frames
        self.t = torch.arange(n, dtype=torch.float32) - (n - 1) / 2  # (N,) the middle frame at t = 0
        self.xs = torch.arange(width, dtype=torch.float32) + 0.5  # (W,) pixel centres
        self.ys = torch.arange(height, dtype=torch.float32) + 0.5  # (H,)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        index = clip_index(index, self.length, self.split)
        g = torch.Generator().manual_seed(clip_seed(self.seed, self.split, index))
        scene = sample_scene(g, self.options)
        return {"frames": render(scene, self.t, self.xs, self.ys)}  # (N, 3, H, W)


def build_moving_shapes(options: MovingShapesOptions, *, split: str, seed: int) -> MovingShapes:
    """Synthetic clips of textured shapes moving over a textured background, rendered on the fly."""
    return MovingShapes(options, split=split, seed=seed)


# ----------------------------------------------------------------------------------------------
# Baselines: how hard is the middle frame?
# ----------------------------------------------------------------------------------------------


def _psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    mse = float(((pred.double() - target.double()) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def baseline_psnr(dataset: Sequence[dict[str, torch.Tensor]], num_clips: int = 200) -> dict[str, float]:
    """Mean PSNR (dB) vs the middle frame of the first ``num_clips`` clips, for two naive guesses.

    ``nearest`` copies frame N//2 - 1; ``blend`` averages frames N//2 - 1 and N//2 + 1.
    """
    totals = {"nearest": 0.0, "blend": 0.0}
    count = min(num_clips, len(dataset))
    for i in range(count):
        frames = dataset[i]["frames"]  # (N, C, H, W)
        mid = frames.shape[0] // 2
        totals["nearest"] += _psnr(frames[mid - 1], frames[mid])
        totals["blend"] += _psnr(0.5 * (frames[mid - 1] + frames[mid + 1]), frames[mid])
    return {name: total / count for name, total in totals.items()}
