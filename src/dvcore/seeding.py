"""The one way dvcore derives seeds: a hash of the recipe's seed and a purpose.

Every random stream that must not overlap another (training noise per rank, each eval purpose,
each sampled image, each data sample) gets its own seed ``derive_seed(seed, *purpose)``: the
64-bit blake2b digest of the parts joined by "/", kept to 63 bits so ``torch.Generator`` and
``np.random.default_rng`` both accept it. Nearby recipe seeds and nearby indices give unrelated
streams (unlike ``seed + k * rank``), and a stream depends on nothing but its parts, so a resumed
or re-evaluated run draws exactly the same numbers.

The global RNGs (Python, NumPy, torch) are seeded once per process by ``seed_everything``: rank 0
with the recipe's seed itself (so a single-process run is unchanged by data-parallel support),
every other rank with ``process_seed(seed, rank, step)``.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

SEED_BITS = 63


def seed_from(*parts: object, bits: int = SEED_BITS) -> int:
    """A ``bits``-bit integer that is a pure function of ``parts`` (joined by "/")."""
    text = "/".join(str(p) for p in parts)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << bits) - 1)


def derive_seed(seed: int, *purpose: object) -> int:
    """A 63-bit seed from the recipe's seed and a purpose, so streams never overlap."""
    return seed_from(seed, *purpose)


def generator(seed: int, *purpose: object, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator seeded with ``derive_seed(seed, *purpose)``."""
    return torch.Generator(device).manual_seed(derive_seed(seed, *purpose))


def eval_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator for one eval purpose, the same at every eval."""
    return generator(seed, "eval", purpose)


def image_generator(seed: int, index: int) -> torch.Generator:
    """The CPU generator of sampled image ``index``: image i depends on (seed, i) only."""
    return generator(seed, "sample", index)


def process_seed(seed: int, rank: int, step: int = 0) -> int:
    """The global-RNG seed of a process: the recipe's seed on rank 0 at step 0, else derived."""
    if rank == 0 and step == 0:
        return seed
    return derive_seed(seed, "process", rank, step)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (NumPy takes the low 32 bits)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
