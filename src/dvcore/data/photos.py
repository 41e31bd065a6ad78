"""The photographs dvcore ships no copy of: the ones inside installed packages (nothing is downloaded).

``PHOTOS`` names each (scikit-image's ``skimage.data`` and scikit-learn's sample images);
``photo_pyramid`` gives one as float32 in [0, 1] with its Gaussian pyramid, loaded once per
process. The photo_motion dataset films them under a moving camera.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# name -> (package, file inside it). The files are read with Pillow straight from the installed
# package (importing skimage.data or sklearn.datasets costs seconds and may reach for the network).
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),  # 512x512 colour
    "brick": ("skimage", "data/brick.png"),  # 512x512 grey texture
    "camera": ("skimage", "data/camera.png"),  # 512x512 grey
    "chelsea": ("skimage", "data/chelsea.png"),  # 300x451 colour (a cat)
    "coffee": ("skimage", "data/coffee.png"),  # 400x600 colour
    "coins": ("skimage", "data/coins.png"),  # 303x384 grey
    "grass": ("skimage", "data/grass.png"),  # 512x512 grey texture
    "gravel": ("skimage", "data/gravel.png"),  # 512x512 grey texture
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),  # 872x1000 colour
    "immunohistochemistry": ("skimage", "data/ihc.png"),  # 512x512 colour microscopy
    "moon": ("skimage", "data/moon.png"),  # 512x512 grey
    "motorcycle": ("skimage", "data/motorcycle_left.png"),  # 500x741 colour
    "page": ("skimage", "data/page.png"),  # 191x384 grey scanned text
    "retina": ("skimage", "data/retina.jpg"),  # 1411x1411 colour
    "rocket": ("skimage", "data/rocket.jpg"),  # 427x640 colour
    "china": ("sklearn", "datasets/images/china.jpg"),  # 427x640 colour
    "flower": ("sklearn", "datasets/images/flower.jpg"),  # 427x640 colour
}
# Held out by default: two colour photos, a grey one and a texture, none of them a near twin of a
# training photo (china and flower are both sklearn's, so only one is held out).
EVAL_PHOTOS = ["camera", "china", "coffee", "gravel"]


def photo_path(name: str) -> Path:
    """Where photo ``name`` lies in its installed package (the package is found, not imported)."""
    package, file = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"photo {name!r} needs the package {package!r}, which is not installed")
    return Path(spec.submodule_search_locations[0]) / file


def load_photo(name: str) -> np.ndarray:
    """Photo ``name`` as uint8 (H, W, 3); grey photos repeated over the three channels."""
    with Image.open(photo_path(name)) as image:
        return np.asarray(image.convert("RGB"))


_LOCK = threading.Lock()


@functools.cache
def _pyramid_cached(name: str) -> tuple[np.ndarray, ...]:
    levels = [load_photo(name).astype(np.float32) / 255.0]  # (H, W, 3) in [0, 1]
    while min(levels[-1].shape[:2]) >= 64:
        levels.append(
            np.asarray(cv2.pyrDown(levels[-1]), dtype=np.float32)
        )  # each level half the size, Gaussian-filtered
    return tuple(levels)


def photo_pyramid(name: str) -> tuple[np.ndarray, ...]:
    """The photo as float32 (H, W, 3) in [0, 1], then its Gaussian pyramid; loaded once per process."""
    with _LOCK:  # worker threads share one copy
        return _pyramid_cached(name)
