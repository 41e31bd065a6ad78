"""The FID Inception-v3: TensorFlow's 2015-12-05 ImageNet graph, laid out as pytorch-fid ports it.

FID, KID and the Inception Score are only comparable across papers when they use this exact
network: the graph Heusel et al. (2017) used for FID, whose weights pytorch-fid converted to
``pt_inception-2015-12-05-6726825d.pth``. It is torchvision's Inception-v3 with three
differences that come from the TensorFlow graph:

- 1008 output classes (the 2015 graph's label map), and no auxiliary classifier;
- the average pools inside the 35x35, 17x17 and first 8x8 mixed blocks ignore the zero
  padding (``count_include_pad=False``: TensorFlow's "SAME" average pool divides by the
  number of pixels inside the image);
- the last mixed block (Mixed_7c) pools its pool branch with a *max* pool, not an average.

Module and parameter names follow pytorch-fid / torchvision exactly (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.conv.weight``, ``fc.weight`` ...), so the weights file loads strictly.
The weights cannot be downloaded from here: ``load_fid_inception`` reads them from a path, and
``resolve_weights_path`` finds that path (the ``weights`` option, else ``$DVCORE_FID_WEIGHTS``)
or raises ``MissingWeightsError`` saying which file is needed and where to get it.

Preprocessing (``InceptionFeatures``) is pytorch-fid's: images in [0, 1], resized to 299x299
by bilinear interpolation (``align_corners=False``, no antialiasing), scaled to [-1, 1].
Scores therefore match pytorch-fid's conventions, not clean-fid's (which resizes with PIL).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from safetensors.torch import load_file as load_safetensors
from torch import nn

from dvcore_metrics.features import Features

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FID_WEIGHTS_FILE
WEIGHTS_ENV = "DVCORE_FID_WEIGHTS"
NUM_CLASSES = 1008
POOL_DIM = 2048
INPUT_SIZE = 299


# ---------------------------------------------------------------------------------------------
#                                   Weights: where, and what if absent
# ---------------------------------------------------------------------------------------------


class MissingWeightsError(FileNotFoundError):
    """The FID Inception weights file was not given or does not exist; the message says how to fix it."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(
            f"FID Inception weights not found: {reason}.\n"
            f'FID, KID and the Inception Score with features = "inception" need the file {FID_WEIGHTS_FILE}\n'
            "(TensorFlow's 2015-12-05 Inception-v3 as ported by pytorch-fid), which dvcore does not "
            "download.\n"
            "On a machine with internet access, download it from\n"
            f"  {FID_WEIGHTS_URL}\n"
            "then point dvcore at it, either in the metric's recipe section:\n"
            f'  weights = "/path/to/{FID_WEIGHTS_FILE}"\n'
            "or for every run, through the environment:\n"
            f"  export {WEIGHTS_ENV}=/path/to/{FID_WEIGHTS_FILE}\n"
            "A .safetensors conversion of the same state dict, or the folder holding the file, works too.\n"
            'For tests and smoke runs only, features = "random_conv" needs no weights '
            "(its scores are not comparable to published ones)."
        )

    def one_line(self) -> str:
        """The same advice on one line, for recipe validation reports."""
        return (
            f"FID Inception weights not found: {self.reason}; download {FID_WEIGHTS_FILE} from "
            f"{FID_WEIGHTS_URL} and set weights = PATH or {WEIGHTS_ENV}=PATH"
        )


class InvalidWeightsError(ValueError):
    """A weights file that is not the FID Inception state dict."""


def resolve_weights_path(weights: str | None) -> Path:
    """The weights file: the `weights` option, else $DVCORE_FID_WEIGHTS; a folder means the file inside it.

    Raises MissingWeightsError (a FileNotFoundError) naming what was tried.
    """
    if weights:
        source, value = "the weights option", weights
    else:
        source, value = f"${WEIGHTS_ENV}", os.environ.get(WEIGHTS_ENV, "")
    if not value:
        raise MissingWeightsError(f"the metric's weights option is unset and ${WEIGHTS_ENV} is not set")
    path = Path(value).expanduser()
    if path.is_dir():
        names = (FID_WEIGHTS_FILE, Path(FID_WEIGHTS_FILE).stem + ".safetensors")
        found = [path / name for name in names if (path / name).is_file()]
        if not found:
            raise MissingWeightsError(
                f"{source} is the folder {str(path)!r}, which holds no {' or '.join(names)}"
            )
        return found[0]
    if not path.is_file():
        raise MissingWeightsError(f"{source} points at {str(path)!r}, which does not exist")
    return path


# ---------------------------------------------------------------------------------------------
#                                   Blocks
# ---------------------------------------------------------------------------------------------


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as in TensorFlow), ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))  # (B, C_out, H', W')


def tf_avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pool, stride 1, that divides by the pixels inside the image (TensorFlow "SAME")."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)  # (B, C, H, W)


class FIDInceptionA(nn.Module):
    """35x35 mixed block (Mixed_5b/c/d): 1x1, 5x5, double 3x3 and pooled 1x1 branches."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # (B, 64, H, W)
        b5 = self.branch5x5_2(self.branch5x5_1(x))  # (B, 64, H, W)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (B, 96, H, W)
        bp = self.branch_pool(tf_avg_pool_3x3(x))  # (B, pool_features, H, W)
        return torch.cat([b1, b5, b3, bp], dim=1)  # (B, 224 + pool_features, H, W)


class InceptionB(nn.Module):
    """Grid reduction 35x35 -> 17x17 (Mixed_6a): strided 3x3, strided double 3x3, max pool."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)  # (B, 384, H', W')
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (B, 96, H', W')
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, C_in, H', W')
        return torch.cat([b3, bd, bp], dim=1)  # (B, 480 + C_in, H', W')


class FIDInceptionC(nn.Module):
    """17x17 mixed block (Mixed_6b..e): factorised 7x7 convolutions (1x7 then 7x1)."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # (B, 192, H, W)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))  # (B, 192, H, W)
        bd = self.branch7x7dbl_1(x)  # (B, c7, H, W)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))  # (B, c7, H, W)
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))  # (B, 192, H, W)
        bp = self.branch_pool(tf_avg_pool_3x3(x))  # (B, 192, H, W)
        return torch.cat([b1, b7, bd, bp], dim=1)  # (B, 768, H, W)


class InceptionD(nn.Module):
    """Grid reduction 17x17 -> 8x8 (Mixed_7a): strided 3x3, 7x7 then strided 3x3, max pool."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))  # (B, 320, H', W')
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))  # (B, 192, H, W)
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))  # (B, 192, H', W')
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, C_in, H', W')
        return torch.cat([b3, b7, bp], dim=1)  # (B, 512 + C_in, H', W')


class FIDInceptionE(nn.Module):
    """8x8 mixed block (Mixed_7b: avg pool; Mixed_7c: max pool, a quirk of the TF graph): split 1x3/3x1."""

    def __init__(self, in_channels: int, pool: Literal["avg", "max"]):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # (B, 320, H, W)
        b3 = self.branch3x3_1(x)  # (B, 384, H, W)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], dim=1)  # (B, 768, H, W)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))  # (B, 384, H, W)
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], dim=1)  # (B, 768, H, W)
        if self.pool == "avg":
            pooled = tf_avg_pool_3x3(x)  # (B, C_in, H, W)
        else:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)  # (B, C_in, H, W)
        bp = self.branch_pool(pooled)  # (B, 192, H, W)
        return torch.cat([b1, b3, bd, bp], dim=1)  # (B, 2048, H, W)


# ---------------------------------------------------------------------------------------------
#                                   The network
# ---------------------------------------------------------------------------------------------


class FIDInceptionV3(nn.Module):
    """Inception-v3 as in the FID graph: (B, 3, 299, 299) in [-1, 1] -> pool features and 1008 logits.

    Built with PyTorch's default initialisation; it is only meaningful once the FID weights are
    loaded (``load_fid_inception``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.fc = nn.Linear(POOL_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, 299, 299) in [-1, 1] -> (pool features (B, 2048), logits (B, 1008))."""
        x = self.Conv2d_1a_3x3(x)  # (B, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)  # (B, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)  # (B, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)  # (B, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)  # (B, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 192, 35, 35)
        x = self.Mixed_5b(x)  # (B, 256, 35, 35)
        x = self.Mixed_5c(x)  # (B, 288, 35, 35)
        x = self.Mixed_5d(x)  # (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # (B, 768, 17, 17)
        x = self.Mixed_6b(x)  # (B, 768, 17, 17)
        x = self.Mixed_6c(x)  # (B, 768, 17, 17)
        x = self.Mixed_6d(x)  # (B, 768, 17, 17)
        x = self.Mixed_6e(x)  # (B, 768, 17, 17)
        x = self.Mixed_7a(x)  # (B, 1280, 8, 8)
        x = self.Mixed_7b(x)  # (B, 2048, 8, 8)
        x = self.Mixed_7c(x)  # (B, 2048, 8, 8)
        pool = x.mean(dim=(2, 3))  # (B, 2048) global average pool: the FID features
        return pool, self.fc(pool)  # (B, 2048), (B, 1008)


class InceptionFeatures(nn.Module):
    """The FID feature extractor: images in [0, 1] -> 2048-d pool features and 1008 logits."""

    name = "fid_inception_v3"
    dim = POOL_DIM
    num_classes = NUM_CLASSES

    def __init__(self, net: FIDInceptionV3):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> Features:
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        pool, logits = self.net(2.0 * x - 1.0)  # (B, 2048), (B, 1008)
        return Features(pool, logits)


# ---------------------------------------------------------------------------------------------
#                                   Loading the weights
# ---------------------------------------------------------------------------------------------


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .pth (loaded with weights_only=True, no code runs) or a .safetensors file."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_safetensors(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidWeightsError(
            f"{str(path)!r} holds a {type(state).__name__}, not a state dict of tensors"
        )
    return dict(state)


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """The FID Inception with its weights from `path`, in eval mode, without gradients.

    Keys must match exactly (strict loading); only BatchNorm's ``num_batches_tracked`` counters,
    which older state dicts lack and which inference never reads, are filled in when absent.
    """
    with torch.device("meta"):  # no time spent on an initialisation the weights replace
        net = FIDInceptionV3()
    state = read_state_dict(path)
    expected = net.state_dict()
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    problems = check_state_dict(state, expected)
    if problems:
        raise InvalidWeightsError(
            f"{str(path)!r} is not the FID Inception state dict ({FID_WEIGHTS_FILE}): " + "; ".join(problems)
        )
    net.load_state_dict(state, strict=True, assign=True)
    return net.eval().requires_grad_(False)


def check_state_dict(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> list[str]:
    """What differs between a state dict and the expected one: missing, unexpected, mis-shaped keys."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} expected {list(v.shape)}, got {list(state[k].shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    for what, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            problems.append(f"{len(keys)} {what} ({', '.join(keys[:3])}{more})")
    return problems
