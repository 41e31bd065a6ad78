"""Peak signal-to-noise ratio, per image, on float images or rounded to uint8 levels.

PSNR = 10 log10(L^2 / MSE) with L the data range (1 for images in [0, 1]) and MSE the
mean over channels and pixels of one image; the metric averages those dB values over
images (the convention of the frame-interpolation literature, and of
``skimage.metrics.peak_signal_noise_ratio`` applied image by image).

Two choices worth knowing:

- The float variant does not clamp: a prediction that overshoots [0, 1] is scored as it
  is, so a model is not flattered by a clamp it would not have at sampling time. The
  uint8 variant (``quantize=True``, registered as ``psnr_uint8``) first writes both images
  as an 8-bit file would (round(x * 255), clamped to [0, 255]) — the number papers report
  after saving PNGs.
- Identical images have MSE 0 and PSNR ``inf``, as in skimage. One such image makes the
  mean ``inf`` too; that is the honest answer (the prediction is exact) and is easy to spot.
"""

from __future__ import annotations

import attrs
import torch

from dvcore.api import MeanMetric, opt
from dvcore_metrics.images import check_image_pair, quantize_uint8


def psnr(
    pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0, quantize: bool = False
) -> torch.Tensor:
    """PSNR in dB of each image: [B, C, H, W] x2 -> [B] float64 (inf where the two images are equal)."""
    check_image_pair(pred, target)
    x, y = pred.double(), target.double()  # (B, C, H, W)
    if quantize:
        x, y = quantize_uint8(x, data_range), quantize_uint8(y, data_range)  # (B, C, H, W)
    mse = (x - y).square().flatten(1).mean(dim=1)  # (B,)
    return 10.0 * torch.log10(data_range**2 / mse)  # (B,)


@attrs.frozen
class PSNROptions:
    """Options of the psnr metric."""

    quantize: bool = opt(
        False, "round both images to uint8 levels (round(x*255), clamped, /255) before comparing"
    )


@attrs.frozen
class PSNRUint8Options(PSNROptions):
    """Options of the psnr_uint8 metric: psnr with quantize on by default."""

    quantize: bool = opt(
        True, "round both images to uint8 levels (round(x*255), clamped, /255) before comparing"
    )


class PSNR(MeanMetric):
    """PSNR in dB (data range 1), per image then averaged over images."""

    higher_is_better = True

    def __init__(self, options: PSNROptions | None = None) -> None:
        self.options = options if options is not None else PSNROptions()
        self.name = "psnr_uint8" if self.options.quantize else "psnr"
        super().__init__()

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(pred.detach(), target.detach(), quantize=self.options.quantize)  # (B,)
