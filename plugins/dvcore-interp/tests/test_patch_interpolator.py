"""The patch interpolator: shapes, overlapping windows, t-conditioning, options checks, training,
registration.
"""

from __future__ import annotations

from importlib import metadata

import pytest
import torch

from dvcore.errors import RecipeError
from dvcore.recipe import BackboneSection, structure
from dvcore.registry import Registry
from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator
from dvcore_interp.patch_interpolator import QuantizedTokens, patchify, unpatchify

TINY = {"d_model": 32, "depth": 1, "heads": 2}


def tiny(**kwargs) -> PatchInterpolatorOptions:
    return PatchInterpolatorOptions(**{**TINY, **kwargs})


def randomize_output(model: torch.nn.Module) -> None:
    """Undo the zero-init of the last layer so the output depends on the input."""
    last = model.conv_head.conv if model.conv_head is not None else model.head
    torch.nn.init.normal_(last.weight, std=0.1)


# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", ["linear", "quantized"])
@pytest.mark.parametrize("size", [(17, 23), (32, 32), (40, 24), (5, 3)])
def test_output_shape_for_any_image_size(tokens: str, size: tuple[int, int]) -> None:
    model = build_patch_interpolator(tiny(tokens=tokens), in_channels=12, out_channels=3)
    out = model(torch.rand(2, 12, *size), torch.zeros(2))
    assert out.shape == (2, 3, *size)


@pytest.mark.parametrize(
    ("in_channels", "out_channels", "frame_channels", "tokens"),
    [
        (12, 3, 3, "linear"),
        (15, 3, 3, "quantized"),
        (4, 1, 1, "quantized"),
        (6, 6, 3, "linear"),
        (8, 2, 2, "linear"),
    ],
)
def test_output_shape_for_channel_counts(
    in_channels: int, out_channels: int, frame_channels: int, tokens: str
) -> None:
    options = tiny(frame_channels=frame_channels, tokens=tokens, token_patch=2)
    model = build_patch_interpolator(options, in_channels=in_channels, out_channels=out_channels)
    assert model(torch.rand(3, in_channels, 19, 13), torch.zeros(3)).shape == (3, out_channels, 19, 13)


@pytest.mark.parametrize(("head", "stride"), [("none", 2), ("conv", 1), ("conv", 2)])
@pytest.mark.parametrize("token_patch", [1, 2])
def test_output_shape_for_heads(head: str, stride: int, token_patch: int) -> None:
    options = tiny(head=head, conv_head_stride=stride, conv_head_channels=8, token_patch=token_patch)
    model = build_patch_interpolator(options, in_channels=12, out_channels=3)
    assert model(torch.rand(2, 12, 18, 21), torch.zeros(2)).shape == (2, 3, 18, 21)


def test_patchify_round_trips() -> None:
    x = torch.rand(2, 5, 8, 8)
    tokens = patchify(x, 2)
    assert tokens.shape == (2, 16, 20)
    assert torch.equal(tokens[0, 1], x[0, :, 0:2, 2:4].flatten())  # token (row 0, col 1)
    assert torch.equal(unpatchify(tokens, 2, 5), x)


# ----------------------------------------------------------------------------------------------
# Windows: overlap, locality, stitching
# ----------------------------------------------------------------------------------------------


def test_windows_overlap_so_a_border_pixel_reaches_both_blocks() -> None:
    torch.manual_seed(0)
    model = build_patch_interpolator(tiny(src_field=16, tgt_field=8), in_channels=12, out_channels=3).eval()
    randomize_output(model)
    x = torch.rand(1, 12, 24, 24)
    x2 = x.clone()
    x2[0, :, 7, 3] += 0.5  # last row of block row 0, 1 pixel from block row 1
    with torch.no_grad():
        diff = (model(x2, torch.zeros(1)) - model(x, torch.zeros(1))).abs().amax(dim=(0, 1))  # (H, W)
    assert diff[0:8, 0:8].max() > 1e-4  # its own block
    assert diff[8:16, 0:8].max() > 1e-4  # the neighbouring block sees it through the margin
    assert diff[16:24].max() == 0  # the window of block row 2 starts at row 12: out of reach


def test_blocks_see_exactly_their_source_field() -> None:
    """Each block is the same function of its window wherever the window sits (pure translation)."""
    torch.manual_seed(0)
    model = build_patch_interpolator(tiny(src_field=12, tgt_field=4), in_channels=6, out_channels=3).eval()
    randomize_output(model)
    x = torch.rand(1, 6, 20, 20)
    with torch.no_grad():
        full = model(x, torch.zeros(1))
        # Block at rows/cols 8..12 sees rows/cols 4..16; a 12x12 crop gives it as its central block.
        crop = model(x[..., 4:16, 4:16], torch.zeros(1))
    torch.testing.assert_close(crop[..., 4:8, 4:8], full[..., 8:12, 8:12])


def test_residual_prior_is_the_output_at_init() -> None:
    model = build_patch_interpolator(tiny(residual=True, head="conv"), in_channels=12, out_channels=3)
    x = torch.rand(2, 12, 11, 9)
    expected = 0.5 * (x[:, 3:6] + x[:, 6:9])  # frames 1 and 2 of 4
    torch.testing.assert_close(model(x, torch.zeros(2)), expected)


def test_quantized_codes_follow_the_colour_digits() -> None:
    embed = QuantizedTokens(num_frames=1, frame_channels=3, levels=8, patch=1, dim=4)
    pixel = torch.tensor([0.0, 0.5, 0.999]).view(1, 3, 1, 1)  # levels 0, 4, 7
    assert embed.codes(pixel).item() == 0 * 64 + 4 * 8 + 7
    assert embed.codes(torch.ones(1, 3, 1, 1)).item() == 511  # 1.0 falls in the top level


# ----------------------------------------------------------------------------------------------
# Timestep conditioning
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", ["linear", "quantized"])
def test_output_depends_on_t(tokens: str) -> None:
    torch.manual_seed(0)
    model = build_patch_interpolator(tiny(tokens=tokens), in_channels=15, out_channels=3).eval()
    randomize_output(model)
    x = torch.rand(1, 15, 16, 16).expand(2, -1, -1, -1)
    with torch.no_grad():
        out = model(x, torch.tensor([0.0, 500.0]))
    assert (out[0] - out[1]).abs().max() > 1e-3


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


def registry() -> Registry:
    from dvcore.registry import Registrar
    from dvcore_interp import plugin

    reg = Registry()
    plugin.dvcore_register_components(Registrar(reg, "dvcore-interp", "test"))
    return reg


def model_problems(**options) -> list[str]:
    with pytest.raises(RecipeError) as info:
        structure({"name": "patch_interpolator", **options}, registry(), BackboneSection)
    return info.value.problems


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"src_field": 4, "tgt_field": 8}, "src_field: expected >= tgt_field (8), got 4"),
        ({"src_field": 16, "tgt_field": 7}, "tgt_field: expected the parity of src_field (16)"),
        ({"tgt_field": 6, "token_patch": 4}, "token_patch: expected a divisor of tgt_field (6), got 4"),
        (
            {"src_field": 10, "tgt_field": 8, "token_patch": 2},
            "token_patch: expected a divisor of the margin",
        ),
        ({"d_model": 30, "heads": 4}, "heads: expected a divisor of d_model (30), got 4"),
        ({"size": "L", "heads": 3}, "heads: expected a divisor of d_model (512), got 3"),
        (
            {"tokens": "quantized", "frame_channels": 6},
            "quant_levels: expected quant_levels ** frame_channels",
        ),
        ({"conv_head_stride": 3}, "conv_head_stride: expected one of 1, 2, got 3"),
        ({"dropout": 1.0}, "dropout: expected < 1, got 1.0"),
        ({"window_chunk": 0}, "window_chunk: expected > 0, got 0"),
    ],
)
def test_options_problems_are_reported_with_their_field(options: dict, expected: str) -> None:
    problems = model_problems(**options)
    assert any(p.startswith(expected) for p in problems), problems


def test_valid_options_structure_and_explicit_dims_override_the_preset() -> None:
    section = structure({"name": "patch_interpolator", "size": "M", "depth": 2}, registry(), BackboneSection)
    assert section.options.dims == (2, 256, 8)  # (depth, width, heads)
    assert PatchInterpolatorOptions().dims == (2, 64, 4)


def test_build_rejects_channels_that_do_not_split_into_frames() -> None:
    with pytest.raises(ValueError, match=r"in_channels: expected a multiple of frame_channels \(3\), got 7"):
        build_patch_interpolator(tiny(), in_channels=7, out_channels=3)
    with pytest.raises(ValueError, match=r"prior_frames: required for an odd number of frames \(5\)"):
        build_patch_interpolator(tiny(residual=True), in_channels=15, out_channels=3)
    with pytest.raises(ValueError, match=r"residual: expected out_channels == frame_channels \(3\), got 6"):
        build_patch_interpolator(tiny(residual=True), in_channels=12, out_channels=6)


# ----------------------------------------------------------------------------------------------
# Training and memory chunking
# ----------------------------------------------------------------------------------------------


def test_window_chunk_does_not_change_the_output() -> None:
    torch.manual_seed(0)
    whole = build_patch_interpolator(tiny(), in_channels=12, out_channels=3).eval()
    randomize_output(whole)
    chunked = build_patch_interpolator(tiny(window_chunk=3), in_channels=12, out_channels=3).eval()
    chunked.load_state_dict(whole.state_dict())
    x = torch.rand(2, 12, 20, 17)
    with torch.no_grad():
        torch.testing.assert_close(chunked(x, torch.zeros(2)), whole(x, torch.zeros(2)))


def moving_square_clips(n: int, size: int = 12, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 5, 3, size, size) clips of a coloured square moving one pixel per frame."""
    clips = torch.full((n, 5, 3, size, size), 0.2)
    for i in range(n):
        r, c = torch.randint(0, size - 8, (2,), generator=generator).tolist()
        colour = torch.rand(3, 1, 1, generator=generator)
        for f in range(5):
            clips[i, f, :, r : r + 3, c + f : c + f + 3] = colour
    return clips


@pytest.mark.parametrize("tokens", ["linear", "quantized"])
def test_a_few_training_steps_lower_the_loss(tokens: str) -> None:
    torch.manual_seed(0)
    options = tiny(tokens=tokens, src_field=8, tgt_field=4, head="conv", conv_head_channels=8)
    model = build_patch_interpolator(options, in_channels=12, out_channels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    clips = moving_square_clips(8, generator=torch.Generator().manual_seed(0))
    x, y = (
        torch.cat([clips[:, :2], clips[:, 3:]], 1).flatten(1, 2),
        clips[:, 2],
    )  # (8, 12, H, W), (8, 3, H, W)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.mse_loss(model(x, torch.zeros(8)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------


def test_registered_through_the_entry_point() -> None:
    entry = {ep.name: ep for ep in metadata.entry_points(group="dvcore")}["interp"]
    assert entry.value == "dvcore_interp.plugin" and entry.dist.name == "dvcore-interp"
    from dvcore.plugins import load

    component = load().registry.get("backbone", "patch_interpolator")
    assert component.origin == "dvcore-interp"
    assert component.options is PatchInterpolatorOptions
    model = component.build(None, in_channels=12, out_channels=3)
    assert model.tgt_field == 8 and model.src_field == 16


def test_images_too_small_to_reflect_fall_back_to_replicate() -> None:
    torch.manual_seed(0)
    reflect = build_patch_interpolator(tiny(padding="reflect"), in_channels=6, out_channels=3).eval()
    randomize_output(reflect)
    replicate = build_patch_interpolator(tiny(padding="replicate"), in_channels=6, out_channels=3).eval()
    replicate.load_state_dict(reflect.state_dict())
    with torch.no_grad():
        big, small = torch.rand(1, 6, 17, 23), torch.rand(1, 6, 5, 3)  # 5x3 needs pads of 4 and 9: no reflect
        assert not torch.allclose(reflect(big, torch.zeros(1)), replicate(big, torch.zeros(1)))
        torch.testing.assert_close(reflect(small, torch.zeros(1)), replicate(small, torch.zeros(1)))
