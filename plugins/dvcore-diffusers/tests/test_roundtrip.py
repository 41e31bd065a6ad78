"""diffusers model -> dvcore run -> dvcore export -> diffusers pipeline: the same model, the same samples."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from diffusers import DDIMPipeline, DDPMPipeline, DDPMScheduler, DiTTransformer2DModel, UNet2DModel

from dvcore import plugins
from dvcore.cli import main
from dvcore.inference import load_run
from dvcore.tasks.generate import eval_generator

TINY_UNET = {
    "sample_size": 8,
    "in_channels": 1,
    "out_channels": 1,
    "block_out_channels": (8, 16),
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
    "layers_per_block": 1,
    "norm_num_groups": 4,
    "attention_head_dim": 8,
}

RECIPE = textwrap.dedent(
    """
    experiment = "diffusers_roundtrip"
    device = "cpu"

    [task]
    name = "generate"
    sample_steps = 10
    num_samples = 4

    [data]
    name = "digits"
    size = 8

    [model]
    {model}

    [loss]
    name = "diffusion"
    target = "{target}"

    [sampler]
    name = "ddim"

    [train]
    batch_size = 16
    max_steps = 4
    lr = 1e-3
    warmup_steps = 1
    log_every = 2
    num_workers = 0
    prefetch = 0

    [train.ema]
    decay = 0.9

    [eval]
    batch_size = 32
    max_samples = 32

    [tracker]
    name = "none"
    """
)


def write_recipe(tmp_path: Path, model: str, target: str = "eps") -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(model=model, target=target))
    return path


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A UNet2DModel saved by diffusers, trained a few steps by `dvcore run`, exported by `dvcore export`."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    torch.manual_seed(0)
    UNet2DModel(**TINY_UNET).save_pretrained(tmp / "init")
    recipe = write_recipe(tmp, f'name = "diffusers_unet2d"\npretrained = "{tmp / "init"}"', target="v")
    result = cli("run", recipe, "--run-dir", tmp / "run", "--no-progress")
    assert result.exit_code == 0, result.output
    result = cli("export", tmp / "run", tmp / "out", "--format", "diffusers")
    assert result.exit_code == 0, result.output
    return {"init": tmp / "init", "run": tmp / "run", "out": tmp / "out"}


def test_exported_unet_computes_what_the_dvcore_backbone_computes(trained):
    run = load_run(trained["run"], plugins.registry())
    unet = UNet2DModel.from_pretrained(trained["out"], subfolder="unet")
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0.0, 417.0, 999.0])
    with torch.no_grad():
        torch.testing.assert_close(unet(x, t).sample, run.model(x, t), rtol=0, atol=0)
    init = UNet2DModel.from_pretrained(trained["init"])
    moved = [not torch.equal(a, b) for a, b in zip(unet.parameters(), init.parameters(), strict=True)]
    assert any(moved)  # it was trained, starting from the diffusers weights


def test_ddim_pipeline_draws_the_images_dvcore_draws(trained):
    run = load_run(trained["run"], plugins.registry())
    ours = run.task.sample(run.model, 4, generator=torch.Generator().manual_seed(7), num_steps=10).images
    pipe = DDIMPipeline.from_pretrained(trained["out"])
    theirs = pipe(
        batch_size=4, generator=torch.Generator().manual_seed(7), num_inference_steps=10, output_type="np"
    )
    theirs = torch.from_numpy(np.asarray(theirs.images)).permute(0, 3, 1, 2)  # (B, 1, 8, 8)
    assert theirs.shape == ours.shape == (4, 1, 8, 8)
    torch.testing.assert_close(theirs, ours, rtol=0, atol=2e-5)  # float32 vs float64 alpha_bar tables
    assert pipe.scheduler.config.prediction_type == "v_prediction"


def test_ddpm_pipeline_loads_the_export_and_samples(trained):
    pipe = DDPMPipeline.from_pretrained(trained["out"])
    pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    images = pipe(
        batch_size=2, generator=torch.Generator().manual_seed(0), num_inference_steps=5, output_type="np"
    )
    images = np.asarray(images.images)
    assert images.shape == (2, 8, 8, 1) and np.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1


def test_export_records_where_it_came_from(trained):
    provenance = json.loads((trained["out"] / "dvcore_export.json").read_text())
    assert provenance["step"] == 4 and provenance["weights"] == "ema" and provenance["sampler"] == "ddim"


def test_export_never_overwrites(trained):
    before = sorted(p.name for p in trained["out"].iterdir())
    result = cli("export", trained["run"], trained["out"], "--format", "diffusers")
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert sorted(p.name for p in trained["out"].iterdir()) == before


def test_unknown_format_is_bad_input(trained, tmp_path):
    result = cli("export", trained["run"], tmp_path / "x", "--format", "onnx")
    assert result.exit_code == 2 and "unknown exporter 'onnx'" in result.output
    assert not (tmp_path / "x").exists()


def test_missing_pretrained_path_is_one_line_and_exit_2(tmp_path):
    recipe = write_recipe(tmp_path, f'name = "diffusers_unet2d"\npretrained = "{tmp_path / "nowhere"}"')
    result = cli("validate", recipe)
    assert result.exit_code == 2
    assert "model.pretrained: path does not exist" in result.output
    assert "Traceback" not in result.output


def test_dvcore_backbone_without_diffusers_counterpart_is_refused(tmp_path):
    pytest.importorskip("dvcore_unet")
    recipe = write_recipe(
        tmp_path,
        'name = "unet"\nbase_channels = 8\nchannel_mult = [1, 2]\nattention_factors = []\n'
        "num_res_blocks = 1\nnorm_groups = 4",
    )
    assert cli("run", recipe, "--run-dir", tmp_path / "run", "--no-progress").exit_code == 0
    result = cli("export", tmp_path / "run", tmp_path / "out", "--format", "diffusers")
    assert result.exit_code == 2 and "has no diffusers counterpart" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dit_round_trip(tmp_path):
    """A dvcore run of diffusers_dit exports a transformer diffusers loads and that computes the same."""
    model = (
        'name = "diffusers_dit"\nsample_size = 8\npatch_size = 2\nnum_layers = 2\n'
        "num_attention_heads = 2\nattention_head_dim = 8\nnum_embeds_ada_norm = 10"
    )
    recipe = write_recipe(tmp_path, model)
    assert cli("run", recipe, "--run-dir", tmp_path / "run", "--no-progress").exit_code == 0
    assert cli("export", tmp_path / "run", tmp_path / "out", "--format", "diffusers").exit_code == 0
    run = load_run(tmp_path / "run", plugins.registry())
    net = DiTTransformer2DModel.from_pretrained(tmp_path / "out", subfolder="transformer")
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3.0, 900.0])
    labels = torch.full((2,), net.config.num_embeds_ada_norm)
    with torch.no_grad():
        torch.testing.assert_close(net(x, t, class_labels=labels).sample, run.model(x, t), rtol=0, atol=0)
    g = eval_generator(0, "x")
    assert torch.isfinite(run.task.sample(run.model, 2, generator=g, num_steps=3).images).all()
