"""photo_motion: real photographs under a moving camera, with occluding sprites on their own paths.

A built-in dataset for frame interpolation at real-image statistics that needs no download:
the photographs are the ones shipped inside installed packages (``PHOTOS``: scikit-image's
``skimage.data`` and scikit-learn's sample images). Each clip is a pure function of (seed,
split, index) and the options, drawn from its own ``numpy`` generator.

What a clip holds:

- A camera over one photograph: the frame's shorter side spans ``view`` of the photo's shorter
  side; the view moves (``speed`` px/frame plus up to ``acceleration`` px/frame^2), turns
  (``rotation`` deg/frame) and zooms (``zoom``: log-scale per frame), all as functions of
  continuous time (t = 0 at the middle frame), so every frame is exact. Outside the photo the
  world continues mirrored (a static, consistent texture). Downscaling views sample a Gaussian
  pyramid level (computed once per photo), so zoomed-out frames do not alias.
- 0..``sprites[1]`` occluding sprites: blobs with anti-aliased edges, textured with a patch of
  another photograph of the same split, moving on curved paths of their own (``sprite_speed``
  px/frame, ``sprite_acceleration`` px/frame^2 in a random direction) and spinning.
- Magnitudes are in pixels of the frame (``height`` x ``width``). ``crop`` cuts [h, w] windows at
  a random place of the frame per clip (train; eval too with ``crop_eval``): training on
  64-pixel windows of 448x256 frames sees the motion of 448x256 frames. Only the window is
  rendered, so a crop costs what its pixels cost.

Splits hold out whole photographs: ``eval_photos`` (by default camera, china, coffee, gravel)
are never seen in train clips, as background or as sprite, and eval clips use only them.

Measured (one thread, busy 2-core machine, ``benchmarks/data_throughput.py`` style timing):
see ``benchmarks/results/interp_baselines.md`` for ms per clip at 64 px and 448x256.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import attrs
import cv2
import numpy as np
import torch

from dvcore.data.clips import check_split, clip_index
from dvcore.data.photos import EVAL_PHOTOS, PHOTOS, photo_pyramid
from dvcore.options import ge, gt, le, odd, opt, range_opt, range_problems

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class PhotoMotionOptions:
    """Real photographs under a moving (panning, turning, zooming) camera, with occluding sprites."""

    height: int = opt(256, "frame height in pixels", ge(16))
    width: int = opt(448, "frame width in pixels", ge(16))
    crop: list[int] | None = opt(
        None, "[height, width] window of each frame at a random place per clip (train); unset = whole frames"
    )
    crop_eval: bool = opt(False, "crop the eval clips too (else eval clips are whole frames)")
    num_frames: int = opt(5, "frames per clip (odd: the middle one is the target)", ge(3), odd)
    num_train: int = opt(20_000, "clips in the train split", gt(0))
    num_eval: int = opt(64, "clips in the eval split", gt(0))
    eval_seed: int | None = opt(
        None, "seed of the eval clips; unset = the recipe's seed (set it to compare runs across seeds)", ge(0)
    )
    photos: list[str] = opt(
        attrs.NOTHING, f"photographs to use, of: {', '.join(PHOTOS)}", factory=lambda: list(PHOTOS)
    )
    eval_photos: list[str] = opt(
        attrs.NOTHING,
        "photographs (of those in photos) held out for eval: never in train clips, as background or sprite",
        factory=lambda: list(EVAL_PHOTOS),
    )
    view: list[float] = range_opt(
        [0.35, 0.8], "share of the photo's shorter side that the frame's shorter side spans", gt(0)
    )
    speed: list[float] = range_opt([2.0, 16.0], "camera speed in frame pixels/frame", ge(0))
    acceleration: float = opt(1.0, "max camera acceleration in pixels/frame^2", ge(0))
    rotation: float = opt(1.5, "max camera rotation in degrees/frame", ge(0))
    zoom: float = opt(0.02, "max camera zoom per frame (log scale: 0.02 = 2 %/frame)", ge(0), le(0.5))
    sprites: list[int] = range_opt([0, 2], "occluding sprites per clip", ge(0))
    sprite_size: list[float] = range_opt(
        [0.08, 0.25], "sprite radius as a share of the frame's shorter side", gt(0)
    )
    sprite_speed: list[float] = range_opt([2.0, 16.0], "sprite speed in pixels/frame", ge(0))
    sprite_acceleration: float = opt(1.5, "max sprite acceleration in pixels/frame^2 (curved paths)", ge(0))
    sprite_rotation: float = opt(5.0, "max sprite spin in degrees/frame", ge(0))

    def problems(self) -> Iterable[tuple[str, str]]:
        """Checks across fields: ranges, crop size, photo names and the split."""
        for name in ("view", "speed", "sprites", "sprite_size", "sprite_speed"):
            yield from range_problems(name, getattr(self, name))
        if self.crop is not None:
            if len(self.crop) != 2 or not all(isinstance(v, int) and v >= 8 for v in self.crop):
                yield "crop", f"expected [height, width] of at least 8 pixels each, got {self.crop!r}"
            elif self.crop[0] > self.height or self.crop[1] > self.width:
                yield (
                    "crop",
                    f"expected at most [height, width] = [{self.height}, {self.width}], got {self.crop!r}",
                )
        unknown = False
        for field in ("photos", "eval_photos"):
            for name in getattr(self, field):
                if name not in PHOTOS:
                    unknown = True
                    yield field, f"unknown photo {name!r}; valid choices: {', '.join(PHOTOS)}"
        if not unknown:
            splits = split_photos(self)
            if not splits["train"] or not splits["eval"]:
                yield (
                    "eval_photos",
                    f"expected photos for both splits; of photos {self.photos!r} this holds out "
                    f"{splits['eval']!r}",
                )


def split_photos(options: PhotoMotionOptions) -> dict[str, list[str]]:
    """{"train": [...], "eval": [...]}: disjoint lists of photo names (eval: ``photos`` in
    ``eval_photos``)."""
    photos, held = list(dict.fromkeys(options.photos)), set(options.eval_photos)
    return {"train": [p for p in photos if p not in held], "eval": [p for p in photos if p in held]}


# ----------------------------------------------------------------------------------------------
# Scene: every random number of one clip
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class Sprite:
    """An occluder: a pre-rendered premultiplied RGBA patch and its path (frame pixels, radians)."""

    photo: str
    patch: np.ndarray  # (P, P, 4) float32: rgb * alpha, alpha
    centre: np.ndarray  # (2,) x, y at t = 0, full-frame pixel coordinates
    velocity: np.ndarray  # (2,) px/frame
    acceleration: np.ndarray  # (2,) px/frame^2
    angle: float
    spin: float  # per frame


@attrs.frozen
class Scene:
    """The parameters of one clip; the camera maps frame pixels to photo pixels."""

    photo: str
    crop: tuple[int, int]  # top, left of the rendered window in the full frame
    scale: float  # frame pixels per photo pixel at t = 0
    centre: np.ndarray  # (2,) photo pixel at the frame centre at t = 0
    angle: float  # camera angle at t = 0
    velocity: np.ndarray  # (2,) frame px/frame, in the frame's axes at t = 0
    acceleration: np.ndarray  # (2,) frame px/frame^2
    spin: float  # radians/frame
    zoom: float  # log-scale/frame
    sprites: tuple[Sprite, ...]

    def camera(self, t: float) -> tuple[np.ndarray, float, float]:
        """(photo pixel at the frame centre, angle, scale) at time t (frames from the middle)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        shift = self.velocity * t + 0.5 * self.acceleration * t * t  # (2,) frame px, frame axes at t = 0
        along = np.array([c * shift[0] - s * shift[1], s * shift[0] + c * shift[1]]) / self.scale
        return self.centre + along, self.angle + self.spin * t, self.scale * math.exp(self.zoom * t)


def _uniform(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _in_disk(rng: np.random.Generator, radius: float) -> np.ndarray:
    angle, r = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform())
    return np.array([r * math.cos(angle), r * math.sin(angle)])


def _polar(magnitude: float, angle: float) -> np.ndarray:
    return np.array([magnitude * math.cos(angle), magnitude * math.sin(angle)])


def sample_scene(
    rng: np.random.Generator, options: PhotoMotionOptions, photos: list[str], crop: bool
) -> Scene:
    """Draw one clip's camera and sprites from ``rng``, over ``photos`` (the split's)."""
    o = options
    height, width = (o.crop[0], o.crop[1]) if crop and o.crop else (o.height, o.width)
    top = int(rng.integers(0, o.height - height + 1))
    left = int(rng.integers(0, o.width - width + 1))
    photo = photos[int(rng.integers(len(photos)))]
    ph, pw = photo_pyramid(photo)[0].shape[:2]
    scale = min(o.height, o.width) / (_uniform(rng, o.view) * min(ph, pw))
    centre = np.array([pw, ph]) * (0.5 + rng.uniform(-0.2, 0.2, size=2))
    angle = math.radians(rng.uniform(-10, 10))
    velocity = _polar(_uniform(rng, o.speed), rng.uniform(0, 2 * math.pi))
    acceleration = _in_disk(rng, o.acceleration)
    spin = math.radians(rng.uniform(-o.rotation, o.rotation))
    zoom = float(rng.uniform(-o.zoom, o.zoom))

    sprites = []
    others = [p for p in photos if p != photo] or photos
    for _ in range(int(rng.integers(o.sprites[0], o.sprites[1] + 1))):
        radius = _uniform(rng, o.sprite_size) * min(o.height, o.width)
        source = others[int(rng.integers(len(others)))]
        sprites.append(
            Sprite(
                photo=source,
                patch=_sprite_patch(rng, source, radius),
                centre=np.array([left + rng.uniform(0, width), top + rng.uniform(0, height)]),
                velocity=_polar(_uniform(rng, o.sprite_speed), rng.uniform(0, 2 * math.pi)),
                acceleration=_in_disk(rng, o.sprite_acceleration),
                angle=float(rng.uniform(0, 2 * math.pi)),
                spin=math.radians(rng.uniform(-o.sprite_rotation, o.sprite_rotation)),
            )
        )
    return Scene(photo, (top, left), scale, centre, angle, velocity, acceleration, spin, zoom, tuple(sprites))


def _sprite_patch(rng: np.random.Generator, photo: str, radius: float) -> np.ndarray:
    """(P, P, 4) premultiplied RGBA: a blob of radius <= ``radius`` px cut from ``photo``."""
    size = 2 * math.ceil(radius) + 3
    pyramid = photo_pyramid(photo)
    ph, pw = pyramid[0].shape[:2]
    step = rng.uniform(0.5, 2.0)  # photo pixels per sprite pixel
    level = min(math.floor(math.log2(max(step, 1.0))), len(pyramid) - 1)
    source = pyramid[level]
    centre = np.array([rng.uniform(0.2, 0.8) * pw, rng.uniform(0.2, 0.8) * ph])
    k = step / 2**level
    c = (size - 1) / 2
    matrix = np.array([[k, 0, centre[0] / 2**level - k * c], [0, k, centre[1] / 2**level - k * c]])
    rgb = cv2.warpAffine(
        source,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )  # (P, P, 3)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) - c
    rho, phi = np.hypot(xs, ys), np.arctan2(ys, xs)
    amplitudes = rng.uniform(0, 0.15, size=3)
    wobble = sum(a * np.cos((j + 2) * phi + rng.uniform(0, 2 * math.pi)) for j, a in enumerate(amplitudes))
    edge = radius * (1 + wobble) / (1 + amplitudes.sum())  # (P, P) <= radius
    alpha = np.clip(edge - rho + 0.5, 0.0, 1.0).astype(np.float32)  # one-pixel anti-aliased ramp
    return np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=-1)


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def render(scene: Scene, options: PhotoMotionOptions, times: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The clip's frames (N, h, w, 3) float32 in [0, 1] at ``times`` (frames from the middle)."""
    h, w = size
    top, left = scene.crop
    frame_centre = np.array([(options.width - 1) / 2, (options.height - 1) / 2])
    origin = np.array([left, top]) - frame_centre  # window pixel (0, 0) relative to the frame centre
    pyramid = photo_pyramid(scene.photo)
    # One pyramid level for the whole clip (the one its most zoomed-out frame needs), so frames match.
    smallest = min(scene.camera(float(t))[2] for t in times)
    level = min(math.floor(math.log2(max(1.0 / smallest, 1.0))), len(pyramid) - 1)
    source, shrink = pyramid[level], 2.0**-level
    frames = np.empty((len(times), h, w, 3), dtype=np.float32)
    for i, t in enumerate(times):
        centre, angle, scale = scene.camera(float(t))
        linear = _rotation(angle) / scale  # frame px -> photo px
        matrix = np.concatenate([linear, (centre + linear @ origin)[:, None]], axis=1) * shrink
        frames[i] = cv2.warpAffine(
            source,
            matrix,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        for sprite in scene.sprites:
            _composite(frames[i], sprite, float(t), np.array([left, top]))
    return frames


def _composite(frame: np.ndarray, sprite: Sprite, t: float, window: np.ndarray) -> None:
    """Lay ``sprite`` at time t over ``frame`` (h, w, 3), in place; ``window`` = its (left, top) in the
    frame."""
    h, w = frame.shape[:2]
    size = sprite.patch.shape[0]
    position = sprite.centre + sprite.velocity * t + 0.5 * sprite.acceleration * t * t - window  # window px
    reach = size / math.sqrt(2) + 2
    x0, y0 = max(int(position[0] - reach), 0), max(int(position[1] - reach), 0)
    x1, y1 = min(int(position[0] + reach) + 1, w), min(int(position[1] + reach) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    linear = _rotation(-(sprite.angle + sprite.spin * t))  # window px -> sprite px, about its centre
    c = (size - 1) / 2
    offset = np.array([c, c]) - linear @ (position - np.array([x0, y0]))
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    rgba = cv2.warpAffine(
        sprite.patch,
        matrix,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )  # (y1 - y0, x1 - x0, 4)
    region = frame[y0:y1, x0:x1]
    region *= 1 - rgba[..., 3:]
    region += rgba[..., :3]


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


def clip_seed(seed: int, split: str, index: int) -> int:
    """A 63-bit generator seed from (seed, split, index)."""
    digest = hashlib.blake2b(f"photo_motion/{split}/{seed}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class PhotoMotion(Sequence[dict[str, torch.Tensor]]):
    """A map-style split of photo_motion: ``dataset[i] -> {"frames": (N, 3, h, w)}``."""

    def __init__(self, options: PhotoMotionOptions, *, split: str, seed: int):
        check_split(split)
        if split == "eval" and options.eval_seed is not None:
            seed = options.eval_seed  # the same eval clips whatever the training seed
        self.options, self.split, self.seed = options, split, seed
        self.photos = split_photos(options)[split]
        self.length = options.num_train if split == "train" else options.num_eval
        crop = options.crop if split == "train" or options.crop_eval else None
        self.cropped = crop is not None
        self.size = (crop[0], crop[1]) if crop is not None else (options.height, options.width)
        n = options.num_frames
        self.times = np.arange(n, dtype=np.float64) - (n - 1) / 2  # (N,) the middle frame at t = 0

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        """The drawn parameters of clip ``index`` (what ``__getitem__`` renders)."""
        index = clip_index(index, self.length, self.split)
        rng = np.random.default_rng(clip_seed(self.seed, self.split, index))
        return sample_scene(rng, self.options, self.photos, self.cropped)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        frames = render(self.scene(index), self.options, self.times, self.size)  # (N, h, w, 3)
        return {"frames": torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()}  # (N, 3, h, w)


def build_photo_motion(options: PhotoMotionOptions, *, split: str, seed: int) -> PhotoMotion:
    """Real photographs (skimage.data, sklearn) under a moving camera, with occluding sprites."""
    return PhotoMotion(options, split=split, seed=seed)
