"""Tiled inference: equal to untiled for a local model, any frame size, weights that sum to one, chunking."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from dvcore.tasks.tiling import blend_weights, tile_starts, tiled_predict
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)


def local_net(seed: int = 0) -> nn.Module:
    """Two 3x3 convs: each output pixel sees inputs within 2 pixels (translation-equivariant)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 4, 3, padding=1)).eval()


@pytest.mark.parametrize("size", [(40, 40), (37, 53), (10, 50), (16, 17)])
def test_tiled_equals_untiled_for_a_model_that_sees_less_than_the_margin(size):
    net = local_net()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        reference = net(x)  # (2, 4, H, W)
    tiled = tiled_predict(net, x, tile=16, overlap=8, chunk=7)  # margin 8 // 4 = 2 = the net's reach
    assert tiled.shape == reference.shape
    assert torch.allclose(tiled, reference, atol=1e-5, rtol=0)


def test_a_model_that_sees_past_the_margin_differs_so_the_margin_matters():
    net = nn.Sequential(local_net(), nn.Conv2d(4, 4, 5, padding=2)).eval()  # reach 4 > margin 2
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        reference = net(x)
    assert not torch.allclose(tiled_predict(net, x, 16, 8), reference, atol=1e-4)
    assert torch.allclose(tiled_predict(net, x, 16, 8, margin=4), reference, atol=1e-5, rtol=0)


def test_tiles_cover_the_frame_and_every_neighbour_overlaps_enough():
    for size in (16, 17, 37, 40, 53, 256, 448):
        starts = tile_starts(size, 16, 8)
        assert starts[0] == 0 and starts[-1] + 16 == max(size, 16)
        assert all(0 < b - a <= 8 for a, b in itertools.pairwise(starts))
    assert tile_starts(40, 16, 8) == [0, 8, 16, 24]  # a regular grid keeps its step


def test_weights_sum_to_one_on_a_regular_grid_and_normalise_elsewhere():
    regular = blend_weights(40, 56, tile=16, overlap=8)  # (40 - 16) and (56 - 16) are multiples of 8
    assert torch.allclose(regular, torch.ones(40, 56, dtype=torch.float64), atol=1e-12)
    irregular = blend_weights(37, 53, tile=16, overlap=8)
    assert float(irregular.min()) > 0.5  # positive everywhere, so the normalisation is well defined
    x = torch.rand(1, 3, 37, 53)
    assert torch.allclose(
        tiled_predict(lambda t: t, x, 16, 8), x, atol=1e-6, rtol=0
    )  # identity stays identity


def test_chunking_bounds_the_tiles_per_call_and_does_not_change_the_result():
    net, x = local_net(1), torch.rand(2, 3, 29, 45)
    sizes = []

    def counted(t: torch.Tensor) -> torch.Tensor:
        sizes.append(len(t))
        return net(t)

    one = tiled_predict(counted, x, tile=(16, 20), overlap=(8, 8), chunk=1)
    assert set(sizes) == {1} and len(sizes) == 2 * len(tile_starts(29, 16, 8)) * len(tile_starts(45, 20, 8))
    sizes.clear()
    five = tiled_predict(counted, x, tile=(16, 20), overlap=(8, 8), chunk=5)
    assert max(sizes) == 5
    every = tiled_predict(net, x, tile=(16, 20), overlap=(8, 8), chunk=10_000)
    assert torch.allclose(one, every, atol=1e-6, rtol=0) and torch.allclose(five, every, atol=1e-6, rtol=0)


def test_no_seam_when_tiles_disagree():
    """Each tile predicts a different constant: the blend fades between them instead of stepping."""
    calls = iter(range(1000))

    def disagreeing(t: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.full_like(tile, float(next(calls) % 2)) for tile in t])  # 0, 1, 0, 1 ...

    out = tiled_predict(disagreeing, torch.zeros(1, 1, 16, 64), tile=16, overlap=8, chunk=1)[0, 0]  # (16, 64)
    steps = (out[:, 1:] - out[:, :-1]).abs()
    assert float(steps.max()) < 0.4  # hard tiling would jump by 1 at every tile border
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0  # tile interiors keep their own values


def test_bad_arguments_are_refused():
    x = torch.rand(1, 3, 20, 20)
    with pytest.raises(ValueError, match="overlap < tile"):
        tiled_predict(lambda t: t, x, tile=8, overlap=8)
    with pytest.raises(ValueError, match="chunk > 0"):
        tiled_predict(lambda t: t, x, tile=8, overlap=4, chunk=0)
    with pytest.raises(ValueError, match="must map"):
        tiled_predict(lambda t: t[..., :-1], x, tile=8, overlap=4)


@pytest.mark.parametrize(("head", "tile", "overlap", "margin"), [("none", 24, 16, 8), ("conv", 32, 20, 9)])
def test_patch_interpolator_tiled_on_its_block_grid_equals_untiled(head, tile, overlap, margin):
    """The lab notes' model (docs/lab_notes.md §I3): 8x8 blocks seeing 16x16 windows. Tiles on the block grid
    discard one block
    at each cut (plus the pixel a 3x3 conv head reaches across a block border)."""
    interp = pytest.importorskip("dvcore_interp")
    options = interp.PatchInterpolatorOptions(d_model=16, depth=1, heads=2, token_patch=2, head=head)
    model = interp.build_patch_interpolator(options, in_channels=12, out_channels=3).eval()
    torch.manual_seed(0)
    for (
        p
    ) in model.parameters():  # the last layer starts at zero; make every output pixel depend on its window
        nn.init.normal_(p, std=0.2)
    x = torch.rand(1, 12, 40, 56)

    def predict(t: torch.Tensor) -> torch.Tensor:
        return model(t, torch.zeros(len(t)))

    with torch.no_grad():
        reference = predict(x)  # (1, 3, 40, 56)
    tiled = tiled_predict(predict, x, tile=tile, overlap=overlap, margin=margin, align=8, chunk=4)
    assert torch.allclose(tiled, reference, atol=1e-5, rtol=0)
    odd = torch.rand(1, 12, 37, 45)  # not a multiple of the tile or the block: runs
    assert tiled_predict(predict, odd, tile=tile, overlap=overlap, margin=margin, align=8).shape == (
        1,
        3,
        37,
        45,
    )
