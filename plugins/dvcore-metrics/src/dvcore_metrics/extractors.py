"""Running a feature extractor: one shared instance per (network, weights, device), batched.

FID, KID and the Inception Score built with the same ``features``/``weights``/``device`` share
one ``SharedExtractor``: the network is loaded once, and when several metrics are updated with
the very same batches (``for m in metrics: m.update(generated, real)``), the features are
computed once and handed to each. The memo holds the last two batches (a generated and a real
one) and is keyed on the tensor's identity and version counter, so an in-place change of a
tensor is seen. It holds weak references: a batch that is freed is forgotten (and its id,
should Python reuse it, matches nothing), and no batch is kept alive by the memo.

Inputs are (B, C, H, W) with C = 1 (repeated to RGB) or 3, in [0, 1], any float dtype and
device. With ``quantize`` they are first rounded to the 256 levels of an 8-bit image (clamped),
so samples scored in memory match the same samples written as PNGs and read back.
Features come back on the CPU in float32.
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import Any

import torch

from dvcore_metrics.features import FeatureExtractor, Features, RandomConvFeatures
from dvcore_metrics.images import quantize_uint8
from dvcore_metrics.inception import InceptionFeatures, load_fid_inception, resolve_weights_path

MEMO_SIZE = 2  # batches whose features are remembered: the generated and the real one of an update


def resolve_device(device: str) -> torch.device:
    """'auto' is cuda when available, else cpu; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class SharedExtractor:
    """A feature network on its device, batched, remembering the features of the last two batches."""

    def __init__(self, module: Any, device: torch.device):
        self.module: FeatureExtractor = module.to(device).eval().requires_grad_(False)
        self.device = device
        self.name, self.dim, self.num_classes = module.name, module.dim, module.num_classes
        self._recent: deque[tuple[weakref.ref[torch.Tensor], int, bool, Features]] = deque(maxlen=MEMO_SIZE)

    def __call__(self, images: torch.Tensor, *, batch_size: int, quantize: bool) -> Features:
        """(B, C, H, W) in [0, 1] -> Features on the CPU, float32: pool (B, dim), logits (B, K) or None."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape [B, 1 or 3, H, W], got {list(images.shape)}")
        for seen, version, quantized, features in self._recent:
            if seen() is images and version == images._version and quantized == quantize:
                return features
        pools, logits = [], []
        with torch.no_grad():  # not inference_mode: callers may use the features in autograd-aware code
            for chunk in images.split(batch_size):
                x = chunk.to(self.device, torch.float32)  # (b, C, H, W)
                if quantize:
                    x = quantize_uint8(x)  # (b, C, H, W) on the 8-bit grid, clamped to [0, 1]
                x = x.expand(-1, 3, -1, -1)  # (b, 3, H, W) grey images repeated to RGB
                out = self.module(x)
                pools.append(out.pool.float().cpu())  # (b, dim)
                if out.logits is not None:
                    logits.append(out.logits.float().cpu())  # (b, K)
        result = Features(torch.cat(pools), torch.cat(logits) if logits else None)
        self._recent.append((weakref.ref(images), images._version, quantize, result))
        return result


_SHARED: dict[tuple[str, str, str], SharedExtractor] = {}


def shared_extractor(features: str, *, weights: str | None = None, device: str = "auto") -> SharedExtractor:
    """The extractor named `features` ("inception" or "random_conv") on `device`, loaded once per process.

    For "inception" the weights path is resolved first (option, else $DVCORE_FID_WEIGHTS), so a
    missing file raises MissingWeightsError before anything else happens.
    """
    dev = resolve_device(device)
    if features == "inception":
        path = resolve_weights_path(weights)
        key = (features, str(path.resolve()), str(dev))
        if key not in _SHARED:
            _SHARED[key] = SharedExtractor(InceptionFeatures(load_fid_inception(path)), dev)
    elif features == "random_conv":
        key = (features, "", str(dev))
        if key not in _SHARED:
            _SHARED[key] = SharedExtractor(RandomConvFeatures(seed=0), dev)
    else:
        raise ValueError(f"unknown features {features!r}; valid choices: inception, random_conv")
    return _SHARED[key]


def clear_shared_extractors() -> None:
    """Forget every loaded extractor (frees their memory; the next metric loads its network again)."""
    _SHARED.clear()
