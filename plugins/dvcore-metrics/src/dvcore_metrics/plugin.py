"""Registers the image metrics with dvcore."""

from __future__ import annotations

from dvcore import hookimpl
from dvcore.registry import Registrar
from dvcore_metrics.psnr import PSNR, PSNROptions, PSNRUint8Options
from dvcore_metrics.ssim import SSIM, SSIMOptions


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("metric", "psnr", PSNR, PSNROptions, doc="PSNR in dB per image, averaged (data range 1)")
    registrar.add(
        "metric", "psnr_uint8", PSNR, PSNRUint8Options, doc="PSNR after rounding both images to uint8 levels"
    )
    registrar.add(
        "metric", "ssim", SSIM, SSIMOptions, doc="SSIM, Gaussian 11x11 window, sigma 1.5 (Wang 2004)"
    )
