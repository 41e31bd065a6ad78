"""Both diffusers backbones pass dvcore's conformance kit, through their registration; a pretrained
directory loads the same weights (and builds on the meta device without reading them)."""

from __future__ import annotations

import torch
from diffusers import UNet2DModel

from dvcore.testing import check_component
from dvcore_diffusers.backbones import build_unet2d
from dvcore_diffusers.options import DiTOptions, UNet2DOptions

TINY_UNET = UNet2DOptions(
    block_out_channels=[8, 16],
    down_block_types=["DownBlock2D", "AttnDownBlock2D"],
    up_block_types=["AttnUpBlock2D", "UpBlock2D"],
    layers_per_block=1,
    norm_num_groups=4,
)


def test_unet2d_passes_the_kit():
    check_component("backbone", "diffusers_unet2d", TINY_UNET, in_channels=12, out_channels=3)


def test_dit_passes_the_kit():
    options = DiTOptions(
        sample_size=16, patch_size=4, num_layers=2, num_attention_heads=2, attention_head_dim=8
    )
    check_component("backbone", "diffusers_dit", options, in_channels=12, out_channels=3)


def test_pretrained_unet_loads_the_saved_weights(tmp_path):
    torch.manual_seed(0)
    saved = UNet2DModel(in_channels=3, out_channels=3, **TINY_UNET.config())
    saved.save_pretrained(tmp_path / "unet")
    options = UNet2DOptions(pretrained=str(tmp_path))  # a pipeline-style directory with unet/
    model = build_unet2d(options, in_channels=3, out_channels=3)
    for (name, a), b in zip(saved.state_dict().items(), model.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    with torch.device("meta"):
        meta = build_unet2d(options, in_channels=3, out_channels=3)
    assert next(meta.parameters()).device.type == "meta"


def test_options_report_every_mismatch():
    options = UNet2DOptions(block_out_channels=[8, 18], down_block_types=["DownBlock2D"], norm_num_groups=4)
    problems = dict(options.problems())
    assert problems["down_block_types"].startswith("expected 2 entries")
    assert "multiple of norm_num_groups" in problems["block_out_channels[1]"]
