"""The ``unet`` model: shapes, time dependence, identity at init, channels-last, gradient
checkpointing, dropout modes, where attention runs, and that it learns."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dvcore.nn.blocks import AttentionBlock, ResBlock
from dvcore.testing.fixtures import one_thread, perturbed, toy_training_losses  # noqa: F401  (autouse: one intra-op thread)
from dvcore_unet import NOTES_256_SCHEMA, UNet, UNetOptions

# Tiny: widths 8, 16, 32; two downsamplings; attention at 1/2 and in the middle (1/4).
SMALL = dict(
    base_channels=8,
    channel_mult=[1, 2, 4],
    attention_factors=[2, 4],
    norm_groups=4,
    attn_heads=2,
    num_res_blocks=1,
)


def small(**changes: object) -> UNetOptions:
    return UNetOptions(**{**SMALL, **changes})


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "height", "width"), [(3, 3, 16, 16), (6, 3, 8, 24), (1, 2, 32, 12), (4, 8, 4, 4)]
)
def test_output_shape_follows_input_size_and_channels(
    in_ch: int, out_ch: int, height: int, width: int
) -> None:
    model = UNet(small(), in_channels=in_ch, out_channels=out_ch)
    out = model(torch.randn(2, in_ch, height, width), torch.rand(2) * 1000)
    assert out.shape == (2, out_ch, height, width)


def test_explicit_schema_with_three_downsamplings_and_two_blocks_per_level() -> None:
    options = UNetOptions(
        channels=[8, 16, 24, 32],
        down_attn=[False, True, False],
        down_channel_indices=[[0, 1], [1, 2], [2, 2]],
        mid_attn=[True],
        mid_channel_indices=[[2, 3]],
        up_attn=[False, True],
        up_channel_indices=[[3, 2], [2, 1]],
        norm_groups=8,
        attn_head_dim=4,
    )
    model = UNet(options, in_channels=3, out_channels=3)
    assert model.num_downsamplings == 3 and len(model.up_levels) == 3  # two listed + the implicit one
    assert model(torch.randn(1, 3, 16, 24), torch.zeros(1)).shape == (1, 3, 16, 24)


def test_sizes_not_divisible_by_the_downsampling_are_refused() -> None:
    model = UNet(small(), in_channels=3, out_channels=3)
    with pytest.raises(
        ValueError, match=r"expected H and W divisible by 4 \(the model halves them 2 times\), got 16x18"
    ):
        model(torch.randn(1, 3, 16, 18), torch.zeros(1))


def test_invalid_options_are_refused_by_the_factory() -> None:
    with pytest.raises(ValueError, match=r"attention_factors\[0\]: expected one of 1, 2, 4"):
        UNet(small(attention_factors=[8]), in_channels=3, out_channels=3)


def test_model_starts_as_zero_prediction_with_identity_blocks() -> None:
    model = UNet(small(), in_channels=3, out_channels=3)
    x = torch.randn(2, 3, 8, 8)
    assert model(x, torch.tensor([1.0, 500.0])).abs().max() == 0
    block = next(m for m in model.modules() if isinstance(m, AttentionBlock))
    h = torch.randn(2, block.proj.in_channels, 4, 4)
    assert torch.equal(block(h), h)


def test_output_depends_on_the_timestep() -> None:
    model = perturbed(UNet(small(), in_channels=3, out_channels=3)).eval()
    x = torch.randn(1, 3, 8, 8).expand(3, -1, -1, -1)
    out = model(x, torch.tensor([0.0, 10.0, 10.0]))
    assert (out[0] - out[1]).abs().max() > 1e-3
    torch.testing.assert_close(out[1], out[2])


def test_channels_last_input_and_weights_give_the_same_output() -> None:
    model = perturbed(UNet(small(), in_channels=3, out_channels=2)).eval()
    x, t = torch.randn(2, 3, 8, 16), torch.tensor([3.0, 700.0])
    expected = model(x, t)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x_cl, t), expected, atol=1e-5, rtol=1e-5)
    model = model.to(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x_cl, t), expected, atol=1e-5, rtol=1e-5)


def test_attention_runs_where_the_notes_comments_say_for_256px() -> None:
    # The seed's schema at 1/8 of the widths: attention at 32x32 down, 16x16 mid, 32x32 up.
    schema = {**NOTES_256_SCHEMA, "channels": [8, 16, 32, 64, 128]}
    model = UNet(UNetOptions(**schema, norm_groups=8, num_res_blocks=1), in_channels=3, out_channels=3).eval()
    sizes: dict[str, list[int]] = {}
    for part in ("down_levels", "mid_levels", "up_levels"):
        for m in getattr(model, part).modules():
            if isinstance(m, AttentionBlock):
                m.register_forward_hook(
                    lambda _m, args, _o, part=part: sizes.setdefault(part, []).append(args[0].shape[-1])
                )
    with torch.no_grad():
        model(torch.randn(1, 3, 256, 256), torch.zeros(1))
    assert sizes == {"down_levels": [32], "mid_levels": [16], "up_levels": [32]}


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    options = small(res_dropout=0.2, attn_dropout=0.2)
    plain = perturbed(UNet(options, in_channels=3, out_channels=3))
    ckpt = UNet(
        small(res_dropout=0.2, attn_dropout=0.2, grad_checkpointing=True), in_channels=3, out_channels=3
    )
    ckpt.load_state_dict(plain.state_dict())
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([5.0, 50.0])
    grads, calls = [], []
    for model in (plain, ckpt):
        conv1 = next(m for m in model.modules() if isinstance(m, ResBlock)).conv1
        count = [0]
        conv1.register_forward_hook(lambda *_, count=count: count.__setitem__(0, count[0] + 1))
        torch.manual_seed(1)  # the same dropout masks in both
        model(x, t).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
        calls.append(count[0])
    assert calls == [1, 2]  # the checkpointed block ran again in backward
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-5, rtol=1e-5, msg=name)


def test_dropout_modes_build_the_dropout_the_notes_studied() -> None:
    element = UNet(small(res_dropout=0.1, attn_dropout=0.3), in_channels=3, out_channels=3)
    channel = UNet(small(res_dropout=0.1, res_dropout_mode="channel"), in_channels=3, out_channels=3)
    kinds = [type(m.dropout) for m in element.modules() if isinstance(m, ResBlock)]
    assert (
        kinds
        and set(kinds) == {nn.Dropout}
        and {m.dropout.p for m in element.modules() if isinstance(m, ResBlock)} == {0.1}
    )
    assert {type(m.dropout) for m in channel.modules() if isinstance(m, ResBlock)} == {nn.Dropout2d}
    assert {m.dropout_p for m in element.modules() if isinstance(m, AttentionBlock)} == {0.3}


def test_a_few_training_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    model = UNet(small(), in_channels=3, out_channels=3)
    losses = toy_training_losses(model)
    assert losses[-1] < 0.3 * losses[0]
