"""Registers the image metrics and the generative-model metrics with dvcore."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl
from dvcore_metrics.fid import FID, FIDOptions
from dvcore_metrics.inception_score import InceptionScore, InceptionScoreOptions
from dvcore_metrics.kid import KID, KIDOptions
from dvcore_metrics.psnr import PSNR, PSNROptions, PSNRUint8Options
from dvcore_metrics.ssim import SSIM, SSIMOptions

DVCORE_PLUGIN_API = "1"  # the dvcore plugin API this package targets (dvcore.api.PLUGIN_API_VERSION)


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add("metric", "psnr", PSNR, PSNROptions, doc="PSNR in dB per image, averaged (data range 1)")
    registrar.add(
        "metric", "psnr_uint8", PSNR, PSNRUint8Options, doc="PSNR after rounding both images to uint8 levels"
    )
    registrar.add(
        "metric", "ssim", SSIM, SSIMOptions, doc="SSIM, Gaussian 11x11 window, sigma 1.5 (Wang 2004)"
    )
    registrar.add(
        "metric",
        "fid",
        FID,
        FIDOptions,
        doc="Fréchet Inception Distance, generated vs real/reference (set-level)",
    )
    registrar.add(
        "metric",
        "kid",
        KID,
        KIDOptions,
        doc="Kernel Inception Distance, unbiased MMD^2 over subsets (set-level)",
    )
    registrar.add(
        "metric",
        "inception_score",
        InceptionScore,
        InceptionScoreOptions,
        doc="Inception Score of the generated images over splits (set-level)",
    )
