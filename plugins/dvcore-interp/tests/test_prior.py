"""The residual prior: blend or optical flow (the flow baseline), and the flow-warped frames as inputs."""

from __future__ import annotations

import math

import pytest
import torch

from dvcore.baselines.flow import middle_frame  # the baseline the prior must reproduce
from dvcore.recipe import BackboneSection, RecipeError, structure
from dvcore.registry import Registrar, Registry
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator, plugin

TINY = {"d_model": 16, "depth": 1, "heads": 2, "token_patch": 2, "residual": True}


def tiny(**kwargs) -> PatchInterpolatorOptions:
    return PatchInterpolatorOptions(**{**TINY, **kwargs})


def shifted_texture_clip(size: int = 48, shift: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random texture translated ``shift`` px right per frame: context (1, 12, S, S), middle (1, 3,
    S,
    S).
    """
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, size // 4 + 4, size // 4 + 12, generator=g)
    texture = torch.nn.functional.interpolate(coarse, scale_factor=4, mode="bicubic").clamp(0, 1)[0]
    frames = [texture[:, 8 : 8 + size, 24 - shift * f : 24 - shift * f + size] for f in range(5)]
    context = torch.cat([frames[0], frames[1], frames[3], frames[4]])[None]  # (1, 12, S, S)
    return context, frames[2][None]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return -10 * math.log10(float(((a - b) ** 2).mean()))


@pytest.mark.parametrize("scales", [1, 3])
def test_flow_prior_is_the_flow_baseline_at_init(scales: int) -> None:
    model = build_patch_interpolator(tiny(prior="flow", scales=scales), in_channels=12, out_channels=3)
    x = torch.rand(2, 12, 40, 33)
    expected = middle_frame(x.reshape(2, 4, 3, 40, 33))  # between frames 1 and 2 of the 4
    torch.testing.assert_close(model(x, torch.zeros(2)), expected)


def test_warped_frames_land_on_the_middle_frame_of_a_translation() -> None:
    model = build_patch_interpolator(tiny(prior="flow", warped_inputs=True), in_channels=12, out_channels=3)
    assert model.prior_fn.extra_channels == 6
    context, middle = shifted_texture_clip()
    prior, warped = model.prior_fn(context)
    inner = (..., slice(8, -8), slice(8, -8))  # away from the borders the shift uncovers
    blend = 0.5 * (context[:, 3:6] + context[:, 6:9])
    assert psnr(warped[:, :3][inner], middle[inner]) > 35
    assert psnr(warped[:, 3:][inner], middle[inner]) > 35
    assert psnr(prior[inner], middle[inner]) > 35 > psnr(blend[inner], middle[inner]) + 5


def test_flow_prior_follows_the_value_range() -> None:
    """Diffusion feeds frames in [-1, 1]: the same flow, so the prior maps like the frames."""
    unit = build_patch_interpolator(tiny(prior="flow"), in_channels=12, out_channels=3)
    signed = build_patch_interpolator(
        tiny(prior="flow", value_range=[-1.0, 1.0]), in_channels=12, out_channels=3
    )
    context, _ = shifted_texture_clip(32)
    torch.testing.assert_close(signed(2 * context - 1, torch.zeros(1)), 2 * unit(context, torch.zeros(1)) - 1)


def registry() -> Registry:
    reg = Registry()
    plugin.dvcore_register_components(Registrar(reg, "dvcore-interp", "test"))
    return reg


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"prior": "flow"}, "prior: 'flow' is used with residual = true or warped_inputs = true"),
        ({"warped_inputs": True, "residual": True}, "warped_inputs: expected prior = 'flow'"),
        (
            {"prior": "flow", "residual": True, "prior_frames": [0, 1, 2]},
            "prior_frames: expected two frames to interpolate between",
        ),
        ({"value_range": [1.0, 0.0]}, "value_range: expected [low, high] with low < high"),
        ({"scales": 0}, "scales: expected >= 1, got 0"),
    ],
)
def test_prior_options_problems_are_reported_with_their_field(options: dict, expected: str) -> None:
    with pytest.raises(RecipeError) as info:
        structure({"name": "patch_interpolator", **options}, registry(), BackboneSection)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
