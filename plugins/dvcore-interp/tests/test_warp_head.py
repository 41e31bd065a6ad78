"""Learned motion (``motion = "learned"``): flow and mask corrections over the flow prior."""

from __future__ import annotations

import pytest
import torch

from dvcore.baselines.flow import middle_frame  # the baseline the model must start at
from dvcore.recipe import BackboneSection, RecipeError, structure
from dvcore.registry import Registrar, Registry
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator, plugin
from dvcore_interp.prior import FlowMotion
from dvcore_interp.warp_head import WarpHead

TINY = {"d_model": 16, "depth": 1, "heads": 2, "token_patch": 2, "residual": True, "prior": "flow"}


def tiny(**kwargs) -> PatchInterpolatorOptions:
    return PatchInterpolatorOptions(**{**TINY, "motion": "learned", **kwargs})


@pytest.mark.parametrize(
    "extra", [{}, {"warped_inputs": True}, {"head": "conv"}, {"warped_inputs": True, "motion_inputs": True}]
)
def test_learned_motion_starts_at_the_flow_baseline(extra: dict) -> None:
    model = build_patch_interpolator(tiny(**extra), in_channels=12, out_channels=3)
    x = torch.rand(2, 12, 24, 19)
    expected = middle_frame(x.reshape(2, 4, 3, 24, 19))  # the flow baseline between frames 1 and 2 of 4
    assert (model(x, torch.zeros(2)) - expected).abs().max() < 1e-5


@pytest.mark.parametrize(("h", "w"), [(8, 8), (17, 23), (31, 9)])
def test_learned_motion_output_shape_for_odd_sizes(h: int, w: int) -> None:
    model = build_patch_interpolator(tiny(warped_inputs=True), in_channels=12, out_channels=3)
    assert model(torch.rand(1, 12, h, w), torch.zeros(1)).shape == (1, 3, h, w)


def test_gradients_reach_the_flow_corrections_and_the_mask() -> None:
    """Moving the drawn flow correction or mask logit changes the frame: both get gradients."""
    g = torch.Generator().manual_seed(0)
    before, after, target = (torch.rand(1, 3, 12, 12, generator=g) for _ in range(3))
    flow = torch.randn(1, 2, 12, 12, generator=g)
    motion = FlowMotion(
        target, None, before, after, flow, -flow, torch.full((1, 1, 12, 12), 0.3)
    )  # frame is unused by the head
    drawn = torch.zeros(1, 8, 12, 12, requires_grad=True)
    loss = (WarpHead(3)(drawn, motion) - target).pow(2).mean()
    loss.backward()
    grad = drawn.grad
    assert grad is not None
    for name, part in zip(("d0", "d1", "mask", "rgb"), grad.split([2, 2, 1, 3], dim=1), strict=True):
        assert part.abs().sum() > 0, name


def test_training_steps_move_flow_and_mask_weights() -> None:
    """End to end: one optimiser step changes the output; the last layer's flow and mask rows get gradient."""
    torch.manual_seed(0)
    model = build_patch_interpolator(tiny(warped_inputs=True), in_channels=12, out_channels=3)
    x, target = torch.rand(2, 12, 16, 16), torch.rand(2, 3, 16, 16)
    loss = (model(x, torch.zeros(2)) - target).pow(2).mean()
    loss.backward()
    # head: d_model -> p*p*(5 + C) values, channel-major per token (unpatchify: C, p, p)
    rows = model.head.weight.grad.reshape(8, 4, -1)  # (5 + C, p*p, D)
    assert rows[:4].abs().sum() > 0 and rows[4].abs().sum() > 0 and rows[5:].abs().sum() > 0


def test_motion_inputs_reach_the_tokens() -> None:
    model = build_patch_interpolator(
        tiny(warped_inputs=True, motion_inputs=True), in_channels=12, out_channels=3
    )
    assert model.embed.proj.in_features == (12 + 6 + 5) * 4  # frames, warps, F_t0, F_t1, w per 2x2 token


def test_learned_motion_meta_device_shapes() -> None:
    model = build_patch_interpolator(
        tiny(warped_inputs=True, motion_inputs=True), in_channels=12, out_channels=3
    ).to("meta")
    assert model(torch.empty(2, 12, 16, 16, device="meta"), torch.zeros(2, device="meta")).shape == (
        2,
        3,
        16,
        16,
    )


def registry() -> Registry:
    reg = Registry()
    plugin.dvcore_register_components(Registrar(reg, "dvcore-interp", "test"))
    return reg


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"motion": "learned", "residual": True}, "motion: 'learned' corrects the flow prior"),
        (
            {"motion": "learned", "prior": "flow", "warped_inputs": True},
            "motion: 'learned' starts at the flow prior: expected residual = true",
        ),
        (
            {"motion": "learned", "prior": "flow", "residual": True, "scales": 2},
            "motion: 'learned' is single-scale",
        ),
        ({"motion": "rife"}, "motion"),
        ({"motion_inputs": True}, "motion_inputs: expected motion = 'learned'"),
        (
            {
                "motion": "learned",
                "prior": "flow",
                "residual": True,
                "motion_inputs": True,
                "tokens": "quantized",
            },
            "motion_inputs: expected tokens = 'linear'",
        ),
    ],
)
def test_learned_motion_problems_are_reported_with_their_field(options: dict, expected: str) -> None:
    with pytest.raises(RecipeError) as info:
        structure({"name": "patch_interpolator", **options}, registry(), BackboneSection)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
