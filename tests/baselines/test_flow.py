"""The optical-flow baseline against known motion, scored with scikit-image's PSNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio

from dvcore.baselines.flow import (
    FlowOptions,
    backward_warp,
    intermediate_flows,
    interpolate,
    middle_frame,
    optical_flow,
)
from dvcore.plugins import load

MARGIN = 12  # pixels next to the border, where content enters the frame and no method can know it


def astronaut(size: int = 96, top: int = 40, left: int = 150, smooth: float = 0.0) -> np.ndarray:
    """A (H, W, 3) float crop of a real photograph, optionally Gaussian-smoothed per channel."""
    photo = data.astronaut().astype(np.float64) / 255.0
    if smooth:
        photo = np.stack([ndimage.gaussian_filter(photo[..., c], smooth) for c in range(3)], axis=-1)
    return photo[top : top + size, left : left + size]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def interior_psnr(pred: torch.Tensor, truth: np.ndarray) -> float:
    p = pred[0].permute(1, 2, 0).double().numpy()[MARGIN:-MARGIN, MARGIN:-MARGIN]
    t = truth[MARGIN:-MARGIN, MARGIN:-MARGIN]
    return peak_signal_noise_ratio(t, p, data_range=1.0)


@pytest.mark.parametrize("shift", [(6, -4), (-4, 10)])
def test_integer_translation_of_a_photo_gives_the_middle_frame_above_35_db(shift):
    dy, dx = shift
    photo = data.astronaut().astype(np.float64) / 255.0
    top, left = 200, 200

    def frame(k: int) -> np.ndarray:  # the camera moves by -shift/2 per half step: content moves +shift/2
        return photo[top - k * dy // 2 : top - k * dy // 2 + 96, left - k * dx // 2 : left - k * dx // 2 + 96]

    before, middle, after = frame(0), frame(1), frame(2)
    pred = interpolate(to_tensor(before), to_tensor(after)).frame
    psnr = interior_psnr(pred, middle)
    blend = interior_psnr(0.5 * (to_tensor(before) + to_tensor(after)), middle)
    assert psnr > 35.0, (psnr, blend)
    assert psnr > blend + 10


@pytest.mark.parametrize("shift", [(2.6, -1.4), (-4.3, 3.7)])
def test_subpixel_translation_of_a_photo_gives_the_middle_frame_above_35_db(shift):
    # Sub-pixel shifts by cubic-spline resampling of a lightly smoothed photo (so the spline is exact
    # enough that the shifted frames are the same scene).
    image = astronaut(size=128, top=160, left=160, smooth=1.0)
    frames = [
        np.stack(
            [ndimage.shift(image[..., c], (k * shift[0] / 2, k * shift[1] / 2), order=3) for c in range(3)],
            -1,
        )
        for k in range(3)
    ]
    pred = interpolate(to_tensor(frames[0]), to_tensor(frames[2])).frame
    assert interior_psnr(pred, frames[1]) > 35.0


def test_flow_recovers_a_known_translation():
    image = astronaut(size=128, top=160, left=160, smooth=1.0)
    moved = np.stack([ndimage.shift(image[..., c], (3.0, -5.0), order=3) for c in range(3)], -1)
    flow = optical_flow(to_tensor(image), to_tensor(moved))[0]  # (2, H, W): image(x) ~ moved(x + flow)
    inner = flow[:, MARGIN:-MARGIN, MARGIN:-MARGIN]
    assert float(inner[0].median()) == pytest.approx(-5.0, abs=0.1)  # dx
    assert float(inner[1].median()) == pytest.approx(3.0, abs=0.1)  # dy
    result = interpolate(to_tensor(image), to_tensor(moved))
    assert float(result.motion()[0]) == pytest.approx(np.hypot(3.0, 5.0), rel=0.1)


def test_occlusion_aware_blend_beats_the_plain_average_of_the_warps():
    # A textured square from another photo slides 16 px right over a static photo: the strip it
    # uncovers exists only in the last frame, the strip it covers only in the first.
    background = astronaut(size=128, top=100, left=100)
    square = data.coffee()[100:140, 200:240].astype(np.float64) / 255.0

    def frame(x: int) -> np.ndarray:
        f = background.copy()
        f[44:84, x : x + 40] = square
        return f

    before, after = to_tensor(frame(30)), to_tensor(frame(46))
    aware = interpolate(before, after, FlowOptions(blend="occlusion")).frame
    average = interpolate(before, after, FlowOptions(blend="average")).frame
    truth = frame(38)
    assert interior_psnr(aware, truth) > interior_psnr(average, truth) + 0.3


def test_the_same_inputs_give_the_same_output():
    rng = np.random.default_rng(0)
    before = torch.from_numpy(rng.random((2, 3, 40, 56), dtype=np.float32))
    after = torch.roll(before, shifts=(1, 2), dims=(2, 3))
    first = interpolate(before, after)
    second = interpolate(before.clone(), after.clone())
    assert torch.equal(first.frame, second.frame)
    assert torch.equal(first.flow_01, second.flow_01)


@pytest.mark.parametrize("intermediate", ["select", "linear"])
def test_the_result_carries_the_intermediate_flows_and_warps_it_blended(intermediate):
    # A photo shifted by (3, -5) px, wrapping round: near the wrap the candidate flows disagree.
    background = astronaut(size=64, top=100, left=100)
    before, after = to_tensor(background), to_tensor(np.roll(background, (3, -5), axis=(0, 1)))
    options = FlowOptions(intermediate=intermediate)
    result = interpolate(before, after, options)
    flow_t0, flow_t1 = intermediate_flows(
        before, after, result.flow_01, result.flow_10, options.t, options.intermediate
    )
    assert torch.equal(result.flow_t0, flow_t0) and torch.equal(result.flow_t1, flow_t1)
    assert torch.equal(result.warped_0, backward_warp(before, flow_t0))
    assert torch.equal(result.warped_1, backward_warp(after, flow_t1))
    blended = result.weight_0 * result.warped_0 + (1 - result.weight_0) * result.warped_1
    assert torch.equal(result.frame, blended)


def test_middle_frame_takes_the_two_frames_around_the_target_and_any_value_range():
    rng = np.random.default_rng(1)
    context = torch.from_numpy(rng.random((2, 4, 3, 20, 24), dtype=np.float32))  # (B, N-1, C, H, W), N = 5
    out = middle_frame(context)
    assert out.shape == (2, 3, 20, 24)
    expected = interpolate(context[:, 1], context[:, 2]).frame
    assert torch.equal(out, expected)
    # The same frames in [-1, 1] with the range declared give the same frame, mapped.
    signed = middle_frame(2 * context - 1, FlowOptions(value_range=[-1.0, 1.0]))
    assert float((signed - (2 * out - 1)).abs().max()) < 1e-5


def test_warping_keeps_gradients_for_the_images():
    before = torch.rand(1, 3, 16, 16, requires_grad=True)
    after = torch.rand(1, 3, 16, 16)
    interpolate(before, after).frame.sum().backward()
    assert before.grad is not None and float(before.grad.abs().sum()) > 0


def test_baselines_are_components_of_the_baseline_kind():
    registry = load(strict=True).registry
    assert {"copy", "blend", "flow"} <= set(registry.names("baseline"))
    flow = registry.get("baseline", "flow")
    assert flow.origin == "dvcore" and flow.options is FlowOptions
    context = torch.rand(1, 2, 3, 16, 16)  # (B, N-1, C, H, W), N = 3
    assert torch.allclose(registry.get("baseline", "blend").build()(context), context.mean(dim=1))
    assert torch.equal(registry.get("baseline", "copy").build()(context), context[:, 0])
    assert torch.equal(
        flow.build(FlowOptions(preset="fast"))(context), middle_frame(context, FlowOptions(preset="fast"))
    )
