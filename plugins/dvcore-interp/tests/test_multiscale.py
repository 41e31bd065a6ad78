"""Coarse-to-fine patch interpolation: shapes at odd sizes, start at the prior, reach, tiling, training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dvcore.tasks.tiling import tiled_predict
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator
from dvcore_interp.multiscale import MultiScaleInterpolator, block_grid, exact_tile_margin

TINY = {"d_model": 16, "depth": 1, "heads": 2, "token_patch": 2}


def tiny(**kwargs) -> PatchInterpolatorOptions:
    return PatchInterpolatorOptions(**{**TINY, **kwargs})


def randomize(model: nn.Module, std: float = 0.2) -> None:
    """Undo every zero-init so each output pixel depends on all of its inputs."""
    torch.manual_seed(0)
    for p in model.parameters():
        nn.init.normal_(p, std=std)


@pytest.mark.parametrize("scales", [2, 3])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"tokens": "quantized"},
        {"head": "conv", "conv_head_channels": 8},
        {"shared_scales": True},
        {"residual": True},
    ],
)
@pytest.mark.parametrize("size", [(17, 23), (5, 3), (33, 64)])
def test_output_shape_for_odd_sizes(scales: int, extra: dict, size: tuple[int, int]) -> None:
    model = build_patch_interpolator(tiny(scales=scales, **extra), in_channels=12, out_channels=3)
    assert isinstance(model, MultiScaleInterpolator)
    assert model(torch.rand(2, 12, *size), torch.zeros(2)).shape == (2, 3, *size)


def test_one_stage_per_scale_or_one_shared() -> None:
    per_scale = build_patch_interpolator(tiny(scales=3), in_channels=12, out_channels=3)
    shared = build_patch_interpolator(tiny(scales=3, shared_scales=True), in_channels=12, out_channels=3)
    assert len(per_scale.stages) == 3 and len(shared.stages) == 1
    assert shared.scale_embed.shape == (3, 16)
    # Shared weights see the scale: the same input at two scales gives two corrections.
    randomize(shared)
    x = torch.rand(1, 15, 16, 16)  # 4 frames + the estimate
    stage = shared.stages[0].eval()
    with torch.no_grad():
        a = stage(x, torch.zeros(1), shared.scale_embed[0].expand(1, -1))
        b = stage(x, torch.zeros(1), shared.scale_embed[2].expand(1, -1))
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("head", ["none", "conv"])
def test_the_output_at_init_is_the_prior(head: str) -> None:
    model = build_patch_interpolator(tiny(scales=3, residual=True, head=head), in_channels=12, out_channels=3)
    x = torch.rand(2, 12, 19, 26)
    torch.testing.assert_close(model(x, torch.zeros(2)), 0.5 * (x[:, 3:6] + x[:, 6:9]))


def reach(model: nn.Module, size: int = 64) -> int:
    """How far (rows) from the centre pixel an input change still moves the centre output."""
    x = torch.rand(1, 12, size, size, requires_grad=True)
    model(x, torch.zeros(1))[0, :, size // 2, size // 2].sum().backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()  # (rows that matter,)
    return int((rows - size // 2).abs().max())


def test_a_coarse_scale_sees_motion_a_single_window_cannot() -> None:
    """16 px windows, 8 px blocks: one scale reaches 11 px at most (the block and its 4 px margin); 3 scales
    4x.
    """
    single = build_patch_interpolator(tiny(), in_channels=12, out_channels=3)
    multi = build_patch_interpolator(tiny(scales=3), in_channels=12, out_channels=3)
    randomize(single), randomize(multi)
    assert reach(single) <= 11
    assert reach(multi) >= 32


@pytest.mark.parametrize("scales", [1, 2, 3])
@pytest.mark.parametrize("head", ["none", "conv"])
def test_tiled_equals_untiled_at_every_scale(scales: int, head: str) -> None:
    options = tiny(scales=scales, head=head, conv_head_channels=8, residual=True)
    model = build_patch_interpolator(options, in_channels=12, out_channels=3).eval()
    randomize(model)
    align, margin = block_grid(options), exact_tile_margin(options)
    overlap = 2 * margin
    tile = -(-(overlap + align) // align) * align  # on the grid, at least one grid step more than the overlap
    step = (tile - overlap) // align * align
    x = torch.rand(1, 12, tile + 2 * step, tile + step)  # three tiles down, two across, all on the grid

    def predict(t: torch.Tensor) -> torch.Tensor:
        return model(t, torch.zeros(len(t)))

    with torch.no_grad():
        reference = predict(x)
    tiled = tiled_predict(predict, x, tile=tile, overlap=overlap, margin=margin, align=align, chunk=4)
    torch.testing.assert_close(tiled, reference, atol=1e-5, rtol=0)
    # The margin is what a cut changes: a crop on the grid differs next to its cut, not past the margin.
    with torch.no_grad():
        crop = predict(x[..., align:])  # cut at column `align`
    diff = (crop - reference[..., align:]).abs().amax(dim=(0, 1, 2))  # (W - align,)
    assert diff[0] > 1e-4 and diff[margin:].max() < 1e-5


def test_exact_tile_margin_of_one_scale_is_one_block() -> None:
    assert exact_tile_margin(tiny()) == 8  # the block next to the cut
    assert exact_tile_margin(tiny(head="conv")) == 9  # and the pixel the 3x3 conv reaches across
    assert block_grid(tiny(scales=3)) == 32


@pytest.mark.parametrize("scales", [1, 3])
def test_as_a_diffusion_backbone_the_output_depends_on_t(scales: int) -> None:
    """Diffusion: 5 frames in (the noisy middle one among them), no residual, t conditions every stage."""
    model = build_patch_interpolator(tiny(scales=scales), in_channels=15, out_channels=3).eval()
    randomize(model, std=0.05)
    x = torch.rand(1, 15, 24, 24).expand(2, -1, -1, -1)
    with torch.no_grad():
        out = model(x, torch.tensor([0.0, 500.0]))
    assert (out[0] - out[1]).abs().max() > 1e-3


def test_a_few_training_steps_lower_the_loss() -> None:
    """Two scales learn a square moving 3 px per frame: over one scale's 2 px margin (src 8, tgt 4)."""
    torch.manual_seed(0)
    model = build_patch_interpolator(tiny(scales=2, src_field=8, tgt_field=4), in_channels=12, out_channels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    clips = torch.full((8, 5, 3, 24, 24), 0.2)
    for i in range(8):
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        for f in range(5):
            clips[i, f, :, r : r + 4, c + 3 * f : c + 3 * f + 4] = torch.rand(3, 1, 1, generator=g)
    x, y = torch.cat([clips[:, :2], clips[:, 3:]], 1).flatten(1, 2), clips[:, 2]
    losses = []
    for _ in range(30):
        loss = nn.functional.mse_loss(model(x, torch.zeros(8)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
