"""dvcore-metrics: PSNR and SSIM as dvcore ``metric`` components, and as plain functions."""

from dvcore_metrics.images import quantize_uint8
from dvcore_metrics.psnr import PSNR, PSNROptions, PSNRUint8Options, psnr
from dvcore_metrics.ssim import SSIM, SSIMOptions, ssim, ssim_map

__all__ = [
    "PSNR",
    "SSIM",
    "PSNROptions",
    "PSNRUint8Options",
    "SSIMOptions",
    "psnr",
    "quantize_uint8",
    "ssim",
    "ssim_map",
]
