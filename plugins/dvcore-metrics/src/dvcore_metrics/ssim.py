"""Structural similarity (Wang et al. 2004), per image, batched in torch.

The reference is ``skimage.metrics.structural_similarity(im1, im2, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=0)``, which is how
skimage reproduces the paper; this module gives the same numbers for a whole batch at
once. The recipe, step by step:

- Local statistics (means, variances, covariance) are Gaussian-weighted averages: an
  11-tap window at sigma 1.5 (radius int(3.5 * sigma + 0.5), as scipy.ndimage truncates
  it), normalised to sum 1, population covariance (no N/(N-1) factor).
- SSIM map, eq. (13) of the paper: ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) /
  ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)), C1 = (K1 L)^2, C2 = (K2 L)^2.
- skimage filters the whole image with reflected borders, then drops a strip of
  pad = (win_size - 1) // 2 pixels on every side before averaging. Every pixel it keeps
  has its window entirely inside the image, so the border mode never matters: a "valid"
  convolution (no padding) yields exactly the kept pixels. Images smaller than the window
  are an error, as in skimage.
- The score of an image is the mean over channels of the per-channel means, which equals
  the mean over channels and kept pixels; the metric then averages over images.

Computed in float64 (the variance terms are differences of nearly equal numbers). Inputs
are not clamped.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from dvcore.api import MeanMetric, gt, opt
from dvcore_metrics.images import check_image_pair

TRUNCATE = 3.5  # window radius in sigmas, rounded as scipy.ndimage does: 11 taps at sigma 1.5


# ---------------------------------------------------------------------------------------------
#                                   Gaussian window
# ---------------------------------------------------------------------------------------------


def window_size(sigma: float) -> int:
    """Taps of the Gaussian window for `sigma` (11 at 1.5), the size skimage crops by."""
    return 2 * int(TRUNCATE * sigma + 0.5) + 1


def gaussian_taps(sigma: float, device: torch.device | None = None) -> torch.Tensor:
    """The 1-D Gaussian window, normalised to sum 1: (K,) float64."""
    radius = window_size(sigma) // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)  # (K,)
    taps = torch.exp(-0.5 * (x / sigma) ** 2)  # (K,)
    return taps / taps.sum()


def gaussian_filter_valid(maps: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian average of each channel, valid region only: (N, M, H, W) -> (N, M, H-K+1, W-K+1)."""
    m, k = maps.shape[1], taps.numel()
    rows = taps.view(1, 1, 1, k).expand(m, 1, 1, k)  # (M, 1, 1, K)
    cols = taps.view(1, 1, k, 1).expand(m, 1, k, 1)  # (M, 1, K, 1)
    maps = F.conv2d(maps, rows, groups=m)  # (N, M, H, W-K+1)
    return F.conv2d(maps, cols, groups=m)  # (N, M, H-K+1, W-K+1)


# ---------------------------------------------------------------------------------------------
#                                   SSIM
# ---------------------------------------------------------------------------------------------


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """The SSIM map over the valid region: [B, C, H, W] x2 -> [B, C, H-K+1, W-K+1] float64."""
    check_image_pair(pred, target)
    b, c, h, w = pred.shape
    k = window_size(sigma)
    if h < k or w < k:
        raise ValueError(f"expected images of at least {k}x{k} for sigma {sigma}, got {h}x{w}")
    x = pred.double().reshape(b * c, 1, h, w)  # (BC, 1, H, W)
    y = target.double().reshape(b * c, 1, h, w)  # (BC, 1, H, W)
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (BC, 5, H, W)
    mu_x, mu_y, e_xx, e_yy, e_xy = gaussian_filter_valid(stats, gaussian_taps(sigma, x.device)).unbind(1)
    var_x = e_xx - mu_x * mu_x  # (BC, H', W') population variance
    var_y = e_yy - mu_y * mu_y  # (BC, H', W')
    cov_xy = e_xy - mu_x * mu_y  # (BC, H', W')
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    # Wang et al. 2004, eq. (13)
    num = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)  # (BC, H', W')
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)  # (BC, H', W')
    return (num / den).view(b, c, h - k + 1, w - k + 1)  # (B, C, H', W')


def ssim(pred: torch.Tensor, target: torch.Tensor, **settings: float) -> torch.Tensor:
    """SSIM of each image, mean over channels and valid pixels: [B, C, H, W] x2 -> [B] float64.

    ``settings``: ``data_range``, ``sigma``, ``k1`` and ``k2``, as ``ssim_map`` takes them.
    """
    s = ssim_map(pred, target, **settings)  # (B, C, H', W')
    return s.mean(dim=(1, 2, 3))  # (B,)


@attrs.frozen
class SSIMOptions:
    """Options of the ssim metric (defaults: Wang et al. 2004)."""

    sigma: float = opt(
        1.5, "std of the Gaussian window; its size is 2*int(3.5*sigma+0.5)+1 (11 at 1.5)", gt(0)
    )
    k1: float = opt(0.01, "K1 of the luminance term, C1 = (K1 * data_range)^2", gt(0))
    k2: float = opt(0.03, "K2 of the contrast-structure term, C2 = (K2 * data_range)^2", gt(0))


class SSIM(MeanMetric):
    """SSIM (Gaussian window, data range 1), per image then averaged over images."""

    name = "ssim"
    higher_is_better = True

    def __init__(self, options: SSIMOptions | None = None) -> None:
        self.options = options if options is not None else SSIMOptions()
        super().__init__()

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        o = self.options
        return ssim(pred.detach(), target.detach(), sigma=o.sigma, k1=o.k1, k2=o.k2)  # (B,)
