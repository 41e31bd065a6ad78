"""image_folder: a folder of images (CelebA, FFHQ, your own) for unconditional generation.

Layout: every image file (.png, .jpg, .jpeg, .bmp, .webp, ...) under ``root``, at
any depth, in sorted order; class subfolders and the like are simply walked::

    ROOT/000001.jpg 000002.jpg ...        (CelebA img_align_celeba/)
    ROOT/00000/00000.png ...              (FFHQ)

Each image is scaled so its shorter side is ``size`` and centre-cropped to
``size x size``, in one resampling of the central square (PIL, bicubic, which
filters when shrinking; the same as scaling the whole image and cropping its centre). A JPEG much larger than
``size`` is decoded at 1/2, 1/4
or 1/8 scale first (``Image.draft``): CelebA's 178x218 -> 64 decodes at half size.

Eval split: the images under ``eval_root`` when set, else a held-out fraction of
them chosen by a hash of their relative paths (see ``dvcore.data.clips``). Scoring a run on
other images (``dvcore eval gen RUN --set data.eval_root=...``) builds only the eval split:
with ``eval_root`` set, ``root`` then need not hold any images.
``hflip`` flips train images left-right with probability 1/2, seeded per sample.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs
import torch

from dvcore.data.augment import Augment, hflip_field, sample_generator
from dvcore.data.clips import check_split, hold_out, split_of, walk_files
from dvcore.data.robust import IMAGE_EXTENSIONS, SkippingDataset, read_image, to_unit_float
from dvcore.data.splits import offered
from dvcore.options import existing_path, gt, lt, opt

# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class ImageFolderOptions:
    """Images from a folder tree, resized and centre-cropped to size x size."""

    root: str = opt(attrs.NOTHING, "folder of images (any depth)", existing_path)
    size: int = opt(64, "output side in pixels: shorter side scaled to it, then centre-cropped", gt(0))
    eval_root: str | None = opt(None, "folder of eval images; unset = hold out eval_fraction", existing_path)
    eval_fraction: float = opt(
        0.05, "unset eval_root: fraction of the images held out (by name hash)", gt(0), lt(1)
    )
    hflip: bool = hflip_field()

    def problems(self) -> Iterable[tuple[str, str]]:
        """Both splits hold images."""
        if Path(self.root).expanduser().exists() and (
            self.eval_root is None or Path(self.eval_root).expanduser().exists()
        ):
            yield from scan(self)[1]


def image_paths(root: Path) -> list[str]:
    """Image files under ``root``, relative to it, sorted."""
    return [
        str(Path(folder) / name) for folder, names in walk_files(root, IMAGE_EXTENSIONS) for name in names
    ]


def scan(options: ImageFolderOptions) -> tuple[dict[str, list[Path]], list[tuple[str, str]]]:
    """Each split's image paths, and the problems found."""
    root = Path(options.root).expanduser()
    if options.eval_root is not None:
        eval_root = Path(options.eval_root).expanduser()
        eval_names = image_paths(eval_root)
        if not eval_names:
            return {}, [("eval_root", f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {str(eval_root)!r}")]
        splits = {"eval": [eval_root / n for n in eval_names]}
        if "train" not in offered():  # scoring a run: the train images are neither read nor required
            return splits, []
    names = image_paths(root)
    if not names:
        return {}, [("root", f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {str(root)!r}")]
    if options.eval_root is not None:
        return {"train": [root / n for n in names], **splits}, []
    if len(names) < 2:
        return {}, [
            (
                "eval_fraction",
                f"holding out eval images needs at least 2 images, {str(root)!r} has 1; "
                "add images or set eval_root",
            )
        ]
    train, held = hold_out(names, options.eval_fraction)
    return {"train": [root / n for n in train], "eval": [root / n for n in held]}, []


def centre_square(width: int, height: int) -> tuple[float, float, float, float]:
    """The (left, top, right, bottom) box of the largest centred square."""
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class ImageFolder(SkippingDataset):
    """A split of image_folder: ``dataset[i] -> {"image": (3, size, size)}`` float32 in [0, 1], RGB."""

    def __init__(self, options: ImageFolderOptions, *, split: str, seed: int):
        check_split(split)
        super().__init__(f"image_folder/{split}", seed)
        self.options, self.split = options, split
        self.paths: list[Path] = split_of(scan(options), split)
        self.augment = Augment(hflip=options.hflip) if split == "train" else Augment()

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int, requested: int) -> dict[str, torch.Tensor]:
        path = str(self.paths[index])
        self.check_readable(path)
        size = self.options.size
        x = read_image(path, resize=(size, size), box=centre_square)  # (3, size, size) uint8
        if self.augment.enabled:
            x = self.augment(x, sample_generator(self.seed, self.split, self.epoch, requested), clip=False)
        return {"image": to_unit_float(x)}  # (3, size, size)


def build_image_folder(options: ImageFolderOptions, *, split: str, seed: int) -> ImageFolder:
    """Images from a folder tree (CelebA/FFHQ style), resized and centre-cropped to size x size."""
    return ImageFolder(options, split=split, seed=seed)
