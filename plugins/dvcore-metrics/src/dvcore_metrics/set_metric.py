"""Set-level metrics (FID, KID, Inception Score): options they share and the update/reference contract.

These compare *sets* of images through a feature network, so there is no value per sample:

- ``update(pred, target)`` takes generated images as ``pred`` and real images as ``target``
  (each [B, C, H, W] in [0, 1], or None), computes their features and accumulates them;
  it returns None. ``update(generated, None)`` and ``update(None, real)`` are both fine, so
  the two sets can come from different loops and in different numbers.
- With the ``reference`` option (a statistics .npz written by ``save_reference``, or by
  pytorch-fid / clean-fid for FID) the real side is read from that file once, and
  ``target`` is ignored.
- ``compute()`` returns the score as a float (NaN until both sides hold at least 2 samples).
- ``save_reference(path)`` writes what the real side holds (everything passed as ``target``),
  so ``dvcore eval stats`` is: build, ``update(None, batch)`` for each batch, ``save_reference``.
- ``uses_reference`` says whether the metric has a real side at all (the Inception Score
  does not: it scores the generated images alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import torch

from dvcore.api import MetricBase, gt, opt
from dvcore_metrics.extractors import shared_extractor
from dvcore_metrics.features import Features
from dvcore_metrics.inception import FID_WEIGHTS_FILE, WEIGHTS_ENV, MissingWeightsError, resolve_weights_path


def valid_device(_inst: Any, _attr: Any, value: str) -> None:
    if value == "auto":
        return
    try:
        torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {value!r}") from None


@attrs.frozen
class FeatureOptions:
    """Options every set-level metric has: which feature network, where, how."""

    features: Literal["inception", "random_conv"] = opt(
        "inception",
        "feature network: the FID Inception-v3 (needs its weights file), or random_conv, "
        "a seeded random stand-in for tests and smoke runs (scores not comparable to published ones)",
    )
    weights: str | None = opt(
        None,
        f"path of {FID_WEIGHTS_FILE} (or a .safetensors conversion, or its folder); unset = ${WEIGHTS_ENV}",
    )
    batch_size: int = opt(64, "images per forward pass of the feature network", gt(0))
    device: str = opt(
        "auto", "device of the feature network: auto (cuda when available), cpu, cuda:N", valid_device
    )
    quantize: bool = opt(
        True,
        "round images to 8-bit levels first, as if saved as PNG, so in-memory and saved samples score alike",
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.features == "inception":
            try:
                resolve_weights_path(self.weights)
            except MissingWeightsError as exc:
                yield "weights", exc.one_line()


class SetMetric(MetricBase):
    """Base of the set-level metrics: feature extraction, the generated and real sides, the reference file."""

    uses_reference: bool = True
    higher_is_better = False

    def __init__(self, options: FeatureOptions, reference: str | None = None) -> None:
        self.options = options
        self.extractor = shared_extractor(options.features, weights=options.weights, device=options.device)
        self.reference = reference
        self.reset_generated()
        self.reset_real()
        if reference is not None:
            self.load_reference(Path(reference).expanduser())

    # -- the Metric contract -----------------------------------------------------------------

    def reset(self) -> None:
        """Forget every image passed to update (a reference read from a file stays)."""
        self.reset_generated()
        if self.reference is None:
            self.reset_real()

    def update(self, pred: torch.Tensor | None, target: torch.Tensor | None) -> None:
        """Accumulate the features of generated (pred) and real (target) images; either may be None."""
        takes_target = self.uses_reference and self.reference is None
        if pred is None and (target is None or not takes_target):
            raise ValueError(
                f"{self.name}: expected generated images (pred)"
                + (" or real images (target)" if takes_target else "")
                + ", got None"
            )
        if pred is not None:
            self.add_generated(self.features(pred))
        if target is not None and takes_target:
            self.add_real(self.features(target))
        return None

    def features(self, images: torch.Tensor) -> Features:
        """Features of a batch [B, C, H, W] in [0, 1], computed once however many metrics share the batch."""
        o = self.options
        return self.extractor(images, batch_size=o.batch_size, quantize=o.quantize)  # runs under no_grad

    def check_reference(self, path: Path, extractor_name: str, dim: int) -> None:
        """Raise ValueError unless a reference file was made with this metric's feature network."""
        if extractor_name and extractor_name != self.extractor.name:
            raise ValueError(
                f"reference {str(path)!r} holds features of {extractor_name!r}, "
                f"but this {self.name} uses {self.extractor.name!r}"
            )
        if dim != self.extractor.dim:
            raise ValueError(
                f"reference {str(path)!r}: expected {self.extractor.dim}-d features "
                f"({self.extractor.name}), got {dim}-d"
            )

    # -- what each metric defines ------------------------------------------------------------

    def reset_generated(self) -> None:
        raise NotImplementedError

    def reset_real(self) -> None:
        raise NotImplementedError

    def add_generated(self, features: Features) -> None:
        raise NotImplementedError

    def add_real(self, features: Features) -> None:
        raise NotImplementedError

    def load_reference(self, path: Path) -> None:
        raise NotImplementedError

    def save_reference(self, path: str | Path) -> None:
        """Write the real side (everything passed as target) as a reference .npz for later runs."""
        raise NotImplementedError
