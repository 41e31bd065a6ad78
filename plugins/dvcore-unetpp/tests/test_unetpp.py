"""The ``unetpp`` backbone: the nested grid of the paper, shapes, deep supervision, time
dependence, checkpointing, dropout modes, option checks, and registration."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import torch
from torch import nn

from dvcore.errors import RecipeError
from dvcore.nn.blocks import ResBlock
from dvcore.plugins import load
from dvcore.recipe import BackboneSection, structure
from dvcore.registry import Registrar, Registry
from dvcore.testing.fixtures import one_thread, perturbed, toy_training_losses  # noqa: F401  (autouse: one intra-op thread)
from dvcore_unetpp import UNetPP, UNetPPOptions, build_unetpp, plugin

SMALL = dict(depth=2, channels=[8, 16, 16], attn=[False, True, True], norm_groups=4, attn_heads=2)


def small(**changes: Any) -> UNetPPOptions:
    return UNetPPOptions(**{**SMALL, **changes})


# ----------------------------------------------------------------------------------------------
# The grid
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("depth", "nodes"), [(1, 3), (2, 6), (3, 10), (4, 15)])
def test_the_grid_holds_the_nodes_with_i_plus_j_at_most_depth(depth: int, nodes: int) -> None:
    options = UNetPPOptions(
        depth=depth, channels=[4] * (depth + 1), attn=[False] * (depth + 1), norm_groups=2
    )
    model = UNetPP(options, in_channels=1, out_channels=1)
    keys = {f"x{i}_{j}" for i in range(depth + 1) for j in range(depth + 1) if i + j <= depth}
    assert model.num_nodes == options.num_nodes == nodes == len(keys)
    assert set(model.nodes) == keys


def test_each_node_takes_its_row_and_the_upsampled_node_below() -> None:
    model = UNetPP(
        UNetPPOptions(depth=3, channels=[8, 16, 24, 32], attn=[False] * 4, norm_groups=8),
        in_channels=3,
        out_channels=3,
    )
    ch = [8, 16, 24, 32]
    for key, node in model.nodes.items():
        i, j = map(int, key[1:].split("_"))
        expected = (ch[0] if i == 0 else ch[i - 1]) if j == 0 else j * ch[i] + ch[i + 1]
        assert (node.res[0].conv1.in_channels, node.res[0].conv1.out_channels) == (expected, ch[i]), key


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "height", "width"), [(3, 3, 8, 8), (6, 3, 12, 20), (1, 4, 4, 32)]
)
@pytest.mark.parametrize("deep_supervision", [False, True])
def test_output_shape_follows_input_size_and_channels(
    in_ch: int, out_ch: int, height: int, width: int, deep_supervision: bool
) -> None:
    model = UNetPP(small(deep_supervision=deep_supervision), in_channels=in_ch, out_channels=out_ch)
    assert model(torch.randn(2, in_ch, height, width), torch.rand(2) * 1000).shape == (
        2,
        out_ch,
        height,
        width,
    )


def test_deep_supervision_averages_one_head_per_top_row_node() -> None:
    model = perturbed(
        UNetPP(
            small(depth=3, channels=[8] * 4, attn=[False] * 4, deep_supervision=True),
            in_channels=2,
            out_channels=2,
        )
    ).eval()
    assert len(model.heads) == 3 and all(h.conv.kernel_size == (1, 1) for h in model.heads)
    top = {}
    for j in (1, 2, 3):
        model.nodes[f"x0_{j}"].register_forward_hook(lambda _m, _a, out, j=j: top.__setitem__(j, out))
    out = model(torch.randn(2, 2, 8, 8), torch.tensor([1.0, 2.0]))
    expected = sum(model.heads[j - 1](top[j]) for j in (1, 2, 3)) / 3
    torch.testing.assert_close(out, expected)


def test_sizes_not_divisible_by_the_downsampling_are_refused() -> None:
    model = UNetPP(small(), in_channels=3, out_channels=3)
    with pytest.raises(ValueError, match=r"UNet\+\+: expected H and W divisible by 4 .* got 8x6"):
        model(torch.randn(1, 3, 8, 6), torch.zeros(1))


# ----------------------------------------------------------------------------------------------
# Behaviour
# ----------------------------------------------------------------------------------------------


def test_model_starts_as_zero_prediction_and_then_depends_on_the_timestep() -> None:
    model = UNetPP(small(), in_channels=3, out_channels=3).eval()
    x = torch.randn(1, 3, 8, 8).expand(3, -1, -1, -1)
    t = torch.tensor([0.0, 10.0, 10.0])
    assert model(x, t).abs().max() == 0
    out = perturbed(model)(x, t)
    assert (out[0] - out[1]).abs().max() > 1e-3
    torch.testing.assert_close(out[1], out[2])


def test_channels_last_input_gives_the_same_output() -> None:
    model = perturbed(UNetPP(small(deep_supervision=True), in_channels=3, out_channels=3)).eval()
    x, t = torch.randn(2, 3, 8, 12), torch.tensor([3.0, 700.0])
    expected = model(x, t)
    got = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last), t)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    plain = perturbed(UNetPP(small(res_dropout=0.2, attn_dropout=0.2), in_channels=3, out_channels=3))
    ckpt = UNetPP(
        small(res_dropout=0.2, attn_dropout=0.2, grad_checkpointing=True), in_channels=3, out_channels=3
    )
    ckpt.load_state_dict(plain.state_dict())
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([5.0, 50.0])
    grads = []
    for model in (plain, ckpt):
        torch.manual_seed(1)  # the same dropout masks in both
        model(x, t).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-5, rtol=1e-5, msg=name)


def test_dropout_modes_build_the_dropout_asked_for() -> None:
    element = UNetPP(small(res_dropout=0.1), in_channels=3, out_channels=3)
    channel = UNetPP(small(res_dropout=0.1, res_dropout_mode="channel"), in_channels=3, out_channels=3)
    assert {type(m.dropout) for m in element.modules() if isinstance(m, ResBlock)} == {nn.Dropout}
    assert {type(m.dropout) for m in channel.modules() if isinstance(m, ResBlock)} == {nn.Dropout2d}


# Averaged heads (deep supervision) learn more slowly: after 60 steps 0.08 of the start, against 0.002.
@pytest.mark.parametrize(("deep_supervision", "ratio"), [(False, 0.3), (True, 0.6)])
def test_a_few_training_steps_reduce_the_loss(deep_supervision: bool, ratio: float) -> None:
    torch.manual_seed(0)
    model = UNetPP(small(deep_supervision=deep_supervision), in_channels=3, out_channels=3)
    losses = toy_training_losses(model)
    assert losses[-1] < ratio * losses[0]


# ----------------------------------------------------------------------------------------------
# Options and registration
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class OneModel:
    model: BackboneSection


def problems_of(**model: Any) -> list[str]:
    registry = Registry()
    plugin.dvcore_register_components(Registrar(registry, "dvcore-unetpp", "0.1.0"))
    try:
        structure({"model": {"name": "unetpp", **model}}, registry, cls=OneModel)
    except RecipeError as exc:
        return exc.problems
    return []


def test_default_options_validate_and_broken_ones_name_their_fields() -> None:
    assert problems_of() == []
    assert problems_of(depth=3) == [
        "model.attn: expected depth + 1 = 4 entries (one per row), got 5",
        "model.channels: expected depth + 1 = 4 entries (one per row), got 5",
    ]
    assert problems_of(channels=[32, 64, 96, 250, 512], attn_heads=8) == [
        "model.attn[3]: expected a width divisible by attn_heads = 8, got 250 (channels[3])",
        "model.channels[3]: expected a multiple of norm_groups = 32, got 250",
    ]
    assert problems_of(attn_head_dim=48) == [
        f"model.attn[{i}]: expected a width divisible by attn_head_dim = 48, got {c} (channels[{i}])"
        for i, c in [(3, 256), (4, 512)]
    ]
    with pytest.raises(ValueError, match=r"channels: expected depth \+ 1 = 3"):
        UNetPP(small(channels=[8, 16]), in_channels=3, out_channels=3)


def test_unetpp_registers_through_the_entry_point_with_its_origin() -> None:
    plugins = load()
    component = plugins.registry.get("backbone", "unetpp")
    assert (component.origin, component.version) == ("dvcore-unetpp", "0.1.0")
    assert (component.factory, component.options) == (build_unetpp, UNetPPOptions)
    assert not [f for f in plugins.failures if f.distribution == "dvcore-unetpp"]
    model = component.build(small(), in_channels=9, out_channels=3)
    assert isinstance(model, UNetPP) and model(torch.randn(1, 9, 8, 8), torch.zeros(1)).shape == (1, 3, 8, 8)
