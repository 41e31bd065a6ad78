"""The DiT network: shapes, initialisation, positions, parameter counts, checkpointing, training."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from dvcore.nn import sincos_2d
from dvcore_dit.model import DIT_SIZES, DiT
from dvcore_dit.options import DitOptions
from dvcore_dit.plugin import build_dit


def tiny(in_channels: int = 3, out_channels: int = 3, **kw) -> DiT:
    """A 2-block, 32-wide DiT: the real architecture at test speed."""
    kw = {"patch": 2, "hidden_size": 32, "depth": 2, "num_heads": 4, **kw}
    return DiT(in_channels, out_channels, **kw)


def perturb_zero_init(model: DiT, std: float = 0.05, seed: int = 0) -> DiT:
    """Give the zero-initialised adaLN and final layers random weights, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "adaLN_modulation" in name or "final_layer.linear" in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


# ----------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "patch", "H", "W"),
    [
        (3, 3, 2, 16, 16),
        (1, 1, 4, 32, 32),
        (4, 4, 8, 32, 64),
        (12, 3, 4, 32, 48),  # non-square, interpolation-style channel counts (4 frames in, 1 out)
        (6, 2, 2, 6, 10),  # grid 3 x 5
    ],
)
def test_output_has_the_input_size_and_the_requested_channels(in_ch, out_ch, patch, H, W):
    model = tiny(in_ch, out_ch, patch=patch)
    out = model(torch.randn(2, in_ch, H, W), torch.tensor([0.0, 500.0]))
    assert out.shape == (2, out_ch, H, W)


def test_a_preset_model_runs_on_non_square_images():
    model = build_dit(DitOptions(size="S", patch=4, depth=1), in_channels=3, out_channels=3)
    assert model(torch.randn(1, 3, 32, 48), torch.tensor([10.0])).shape == (1, 3, 32, 48)


def test_learn_sigma_doubles_the_output_channels():
    model = tiny(3, 3, learn_sigma=True)
    assert model.out_channels == 6
    assert model(torch.randn(2, 3, 8, 8), torch.zeros(2)).shape == (2, 6, 8, 8)


def test_one_model_serves_several_image_sizes():
    model = perturb_zero_init(tiny())
    for H, W in [(8, 8), (16, 8), (4, 12)]:
        assert model(torch.randn(1, 3, H, W), torch.zeros(1)).shape == (1, 3, H, W)


@pytest.mark.parametrize(("H", "W"), [(30, 32), (32, 33)])
def test_a_size_not_divisible_by_the_patch_is_a_clear_error(H, W):
    with pytest.raises(ValueError, match=rf"patch 4 needs H and W divisible by 4, got {H}x{W}"):
        tiny(patch=4)(torch.randn(1, 3, H, W), torch.zeros(1))


def test_unpatchify_inverts_patch_order():
    """A final layer that copies each patch's pixels reproduces the input (p, q, c token layout)."""
    model = tiny(3, 3, patch=2)
    B, C, H, W, p = 2, 3, 6, 10, 2
    x = torch.randn(B, C, H, W)
    tokens = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, p * p * C)
    assert torch.equal(model.unpatchify(tokens, H // p, W // p), x)


# ----------------------------------------------------------------------------------------------
# Initialisation and conditioning on t
# ----------------------------------------------------------------------------------------------


def test_output_is_exactly_zero_at_init():
    torch.manual_seed(0)
    model = tiny()
    out = model(torch.randn(3, 3, 8, 8), torch.tensor([0.0, 10.0, 999.0]))
    assert torch.count_nonzero(out) == 0


def test_every_block_is_the_identity_at_init():
    """adaLN-Zero: the gates start at 0, so each block returns its input unchanged."""
    model = tiny()
    x, c = torch.randn(2, 16, 32), torch.randn(2, 32)
    for block in model.blocks:
        assert torch.equal(block(x, c), x)


def test_output_depends_on_t_once_the_zero_init_layers_are_nonzero():
    """At init the output is 0 for every t; with trained (here: random) adaLN weights t matters."""
    torch.manual_seed(0)
    model = tiny()
    x = torch.randn(1, 3, 8, 8).repeat(2, 1, 1, 1)
    t = torch.tensor([0.0, 500.0])
    out = model(x, t)
    assert torch.equal(out[0], out[1])  # zero-init: no dependence yet
    out = perturb_zero_init(model)(x, t)
    assert (out[0] - out[1]).abs().max() > 1e-3


def test_a_few_training_steps_reduce_the_loss_and_make_the_output_depend_on_t():
    """Regress a t-dependent target: x scaled by t/1000 (like x0 of a schedule)."""
    torch.manual_seed(0)
    model = tiny(3, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.randn(8, 3, 8, 8)
    t = torch.linspace(0, 999, 8)
    target = x * (t / 1000)[:, None, None, None]
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.mse_loss(model(x, t), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses
    with torch.no_grad():
        same_x = x[:1].repeat(2, 1, 1, 1)
        out = model(same_x, torch.tensor([0.0, 999.0]))
    assert (out[0] - out[1]).abs().mean() > 0.3  # the target differs by ~0.8


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = perturb_zero_init(tiny(depth=3))
    ckpt = copy.deepcopy(plain)
    ckpt.grad_checkpointing = True
    x, t = torch.randn(2, 3, 8, 12), torch.tensor([3.0, 700.0])
    for model in (plain, ckpt):
        model.train()
        model(x, t).square().mean().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=0), name
    assert any(p.grad.abs().max() > 0 for p in plain.blocks.parameters())


def test_dropout_acts_in_training_only():
    torch.manual_seed(0)
    model = perturb_zero_init(tiny(dropout=0.5, attn_dropout=0.5))
    x, t = torch.randn(2, 3, 8, 8), torch.zeros(2)
    model.eval()
    assert torch.equal(model(x, t), model(x, t))
    model.train()
    assert not torch.equal(model(x, t), model(x, t))


# ----------------------------------------------------------------------------------------------
# Positional embedding
# ----------------------------------------------------------------------------------------------


def closed_form_position(n: int, c: int, h: int, w: int, D: int) -> float:
    """Entry (n, c) of the 2D sin-cos table, one scalar at a time.

    Token n sits at row n // w, column n % w. Channels [0, D/2) encode the column, [D/2, D) the
    row; in each half the first D/4 are sin(pos * w_k), the next D/4 cos(pos * w_k),
    with w_k = 1 / 10000^(k / (D/4)).
    """
    del h
    quarter = D // 4
    pos = (n % w) if c < D // 2 else (n // w)
    k = c % quarter
    angle = pos / 10000 ** (k / quarter)
    return math.sin(angle) if (c % (D // 2)) < quarter else math.cos(angle)


@pytest.mark.parametrize(("h", "w", "D"), [(3, 5, 16), (4, 4, 8), (2, 7, 32)])
def test_positions_match_the_closed_form(h, w, D):
    table = sincos_2d(D, h, w)
    expected = torch.tensor(
        [[closed_form_position(n, c, h, w, D) for c in range(D)] for n in range(h * w)], dtype=torch.float64
    )
    assert table.shape == (h * w, D)
    assert torch.allclose(table, expected, atol=1e-12)


def test_positions_match_diffusers_dit_on_square_grids():
    """diffusers' get_2d_sincos_pos_embed with base_size = grid is DiT's table."""
    embeddings = pytest.importorskip("diffusers.models.embeddings")
    reference = embeddings.get_2d_sincos_pos_embed(64, 8, base_size=8, output_type="pt")
    assert torch.allclose(sincos_2d(64, 8, 8).float(), reference.float(), atol=1e-5)


def test_positions_are_fixed_not_parameters_and_follow_the_grid():
    model = tiny(hidden_size=32)
    names = [n for n, _ in model.named_parameters()] + list(model.state_dict())
    assert not any("pos" in n for n in names)
    pos = model.pos_embed(3, 5, torch.device("cpu"), torch.float32)
    assert pos.shape == (1, 15, 32) and not pos.requires_grad
    assert torch.equal(pos[0], sincos_2d(32, 3, 5).float())
    assert model.pos_embed(3, 5, torch.device("cpu"), torch.float32) is pos  # cached per size


# ----------------------------------------------------------------------------------------------
# Parameter counts against the paper (Table 1: DiT-S/2 33M, DiT-B/2 130M; 32x32x4 latents, learn_sigma)
# ----------------------------------------------------------------------------------------------


def closed_form_params(depth: int, D: int, patch: int, c_in: int, c_out: int, freq: int = 256) -> int:
    """Parameters of our DiT, layer by layer."""
    block = (3 * D * D + 3 * D) + (D * D + D) + (4 * D * D + 4 * D) + (4 * D * D + D) + (6 * D * D + 6 * D)
    t_embed = (freq * D + D) + (D * D + D)
    patchify = c_in * patch * patch * D + D
    final = (2 * D * D + 2 * D) + (D * patch * patch * c_out + patch * patch * c_out)
    return depth * block + t_embed + patchify + final


@pytest.mark.parametrize(("size", "paper_millions"), [("S", 33), ("B", 130)])
def test_parameter_counts_match_the_paper(size, paper_millions):
    depth, D, _ = DIT_SIZES[size]
    with torch.device("meta"):  # counting needs no memory
        model = build_dit(DitOptions(size=size, patch=2, learn_sigma=True), in_channels=4, out_channels=4)
    ours = sum(p.numel() for p in model.parameters())
    assert ours == closed_form_params(depth, D, patch=2, c_in=4, c_out=8)
    assert abs(ours / (paper_millions * 1e6) - 1) < 0.02
    # The paper's model also has a class table of 1001 x D (1000 classes + the null label).
    with_classes = ours + 1001 * D
    assert abs(with_classes / (paper_millions * 1e6) - 1) < 0.005
