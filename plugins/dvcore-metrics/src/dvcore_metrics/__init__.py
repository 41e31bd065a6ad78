"""dvcore-metrics: image metrics (PSNR, SSIM) and generative-model metrics (FID, KID, IS) for dvcore.

Each is a dvcore ``metric`` component and, underneath, a plain function.
"""

from dvcore_metrics.extractors import SharedExtractor, clear_shared_extractors, shared_extractor
from dvcore_metrics.features import FeatureExtractor, Features, RandomConvFeatures
from dvcore_metrics.fid import FID, FeatureStats, FIDOptions, frechet_distance
from dvcore_metrics.images import quantize_uint8
from dvcore_metrics.inception import (
    FID_WEIGHTS_FILE,
    FID_WEIGHTS_URL,
    WEIGHTS_ENV,
    FIDInceptionV3,
    InceptionFeatures,
    InvalidWeightsError,
    MissingWeightsError,
    load_fid_inception,
    resolve_weights_path,
)
from dvcore_metrics.inception_score import (
    InceptionScore,
    InceptionScoreOptions,
    inception_score,
    inception_score_splits,
)
from dvcore_metrics.kid import KID, KIDOptions, kernel_inception_distance, kid_subsets, mmd2_unbiased
from dvcore_metrics.psnr import PSNR, PSNROptions, PSNRUint8Options, psnr
from dvcore_metrics.set_metric import FeatureOptions, SetMetric
from dvcore_metrics.ssim import SSIM, SSIMOptions, ssim, ssim_map

__all__ = [
    "FID",
    "FID_WEIGHTS_FILE",
    "FID_WEIGHTS_URL",
    "KID",
    "PSNR",
    "SSIM",
    "WEIGHTS_ENV",
    "FIDInceptionV3",
    "FIDOptions",
    "FeatureExtractor",
    "FeatureOptions",
    "FeatureStats",
    "Features",
    "InceptionFeatures",
    "InceptionScore",
    "InceptionScoreOptions",
    "InvalidWeightsError",
    "KIDOptions",
    "MissingWeightsError",
    "PSNROptions",
    "PSNRUint8Options",
    "RandomConvFeatures",
    "SSIMOptions",
    "SetMetric",
    "SharedExtractor",
    "clear_shared_extractors",
    "frechet_distance",
    "inception_score",
    "inception_score_splits",
    "kernel_inception_distance",
    "kid_subsets",
    "load_fid_inception",
    "mmd2_unbiased",
    "psnr",
    "quantize_uint8",
    "resolve_weights_path",
    "shared_extractor",
    "ssim",
    "ssim_map",
]
