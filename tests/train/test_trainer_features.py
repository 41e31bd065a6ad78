"""Trainer features a long run depends on: accumulation, EMA, precision, the non-finite guard, signals,
DDP."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dvcore import plugins
from dvcore.errors import TrainingDiverged
from dvcore.train import checkpoint
from dvcore.train.ema import EMA
from tests.conftest import make_trainer


def trainer_for(path, run_dir, *overrides):
    """``make_trainer`` without warm-up, so every step moves the weights by the full learning rate."""
    return make_trainer(path, plugins.load().registry, run_dir, "train.warmup_steps=0", *overrides)


def weights(trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_accumulating_k_micro_batches_equals_one_batch_of_k_times_b(testplug, tiny_recipe, tmp_path):
    one, _ = trainer_for(tiny_recipe, tmp_path / "a", "train.batch_size=8", "train.max_steps=3")
    one.fit()
    accum, _ = trainer_for(
        tiny_recipe, tmp_path / "b", "train.batch_size=2", "train.grad_accum=4", "train.max_steps=3"
    )
    accum.fit()
    a, b = weights(one), weights(accum)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    assert any(
        not torch.equal(a[k], weights(trainer_for(tiny_recipe, tmp_path / "c")[0])[k]) for k in a
    )  # it trained


def test_ema_follows_the_exponential_average():
    model = torch.nn.Linear(2, 1, bias=False)
    ema = EMA(model, decay=0.9, warmup=False)
    start = model.weight.detach().clone()
    expected = start.clone()
    for i in range(5):
        with torch.no_grad():
            model.weight.add_(float(i + 1))
        ema.update(model)
        expected = 0.9 * expected + 0.1 * model.weight.detach()
    assert torch.allclose(ema.module.weight, expected, atol=1e-6)
    warm = EMA(model, decay=0.999, warmup=True)
    assert [round(warm.current_decay(), 6) for _ in range(1)] == [0.1]  # (1 + 0) / (10 + 0)
    warm.num_updates = 10_000
    assert warm.current_decay() == 0.999


def test_ema_weights_are_checkpointed_and_used_for_eval(testplug, tiny_recipe, tmp_path):
    trainer, _ = trainer_for(
        tiny_recipe, tmp_path / "run", "train.max_steps=4", "train.ema={decay=0.5, warmup=false}"
    )
    trainer.fit()
    assert trainer.eval_model is trainer.ema.module and trainer.ema.num_updates == 4
    tensors, state = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["ema_updates"] == 4
    assert all(torch.equal(tensors["ema"][k], v) for k, v in trainer.ema.state_dict().items())
    assert any(not torch.equal(tensors["ema"][k], tensors["model"][k]) for k in tensors["model"])


def test_bf16_autocast_trains_on_cpu(testplug, tiny_recipe, tmp_path):
    trainer, tracker = trainer_for(
        tiny_recipe, tmp_path / "run", "train.precision='bf16'", "train.max_steps=4", "train.log_every=1"
    )
    seen = []
    trainer.model.net[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = weights(trainer)
    trainer.fit()
    assert torch.bfloat16 in seen
    losses = [v["loss"] for _, ctx, v in tracker.scalars if ctx == "train"]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert trainer.model.net[0].weight.dtype == torch.float32  # master weights stay fp32
    assert any(not torch.equal(before[k], v) for k, v in weights(trainer).items())


def test_non_finite_steps_are_skipped_counted_and_stop_the_run(testplug, tiny_recipe, tmp_path):
    trainer, tracker = trainer_for(
        tiny_recipe, tmp_path / "run", "train.max_steps=6", "train.log_every=1", "train.max_nonfinite=3"
    )
    real = trainer.task.training_loss
    calls = {"n": 0}

    def sometimes_nan(model, batch):
        calls["n"] += 1
        loss, extras = real(model, batch)
        return (loss * float("nan") if calls["n"] == 2 else loss), extras

    trainer.task.training_loss = sometimes_nan
    trainer.fit()
    assert trainer.skipped_steps == 1 and trainer.step == 6
    assert [v["skipped_steps"] for _, ctx, v in tracker.scalars if ctx == "train"] == [0, 1, 1, 1, 1, 1]

    broken, _ = trainer_for(tiny_recipe, tmp_path / "broken", "train.max_steps=10", "train.max_nonfinite=3")
    good = weights(broken)
    broken.task.training_loss = lambda model, batch: (real(model, batch)[0] * float("inf"), {})
    with pytest.raises(TrainingDiverged, match="3 consecutive steps with a non-finite loss"):
        broken.fit()
    tensors, state = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "broken" / "checkpoints")[-1])
    assert state["step"] == 3 and all(torch.equal(tensors["model"][k], good[k]) for k in good)


def dvcore_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvcore.cli", *args]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(checkpoint.list_checkpoints(run_dir / "checkpoints")[-1])[0]["model"]


@pytest.mark.slow
def test_sigterm_checkpoints_and_the_resumed_run_is_bit_exact(testplug, tiny_recipe, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(testplug)}
    common = ["--no-progress", "--set", "train.max_steps=60", "--set", "train.log_every=1"]
    reference = tmp_path / "reference"
    subprocess.run(
        dvcore_cli("run", str(tiny_recipe), "--run-dir", str(reference), *common),
        env=env,
        check=True,
        capture_output=True,
    )

    stopped = tmp_path / "stopped"
    # progress on: not a TTY, so plain "step k/60" lines arrive on stderr
    cmd = dvcore_cli("run", str(tiny_recipe), "--run-dir", str(stopped), *common[1:])
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:  # plain progress lines (not a TTY): wait until training is under way
        if line.startswith("step 5/60"):
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert f"resume with: dvcore run --resume {stopped}" in rest
    (ckpt,) = checkpoint.list_checkpoints(stopped / "checkpoints")
    step = int(ckpt.name.split("_")[1])
    assert 5 <= step < 60
    subprocess.run(
        dvcore_cli("run", "--resume", str(stopped), "--no-progress"), env=env, check=True, capture_output=True
    )
    a, b = final_weights(reference), final_weights(stopped)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_global_batch(testplug, tiny_recipe, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(testplug), "OMP_NUM_THREADS": "1"}
    steps = ["--no-progress", "--set", "train.max_steps=4", "--set", "train.warmup_steps=0"]
    single = tmp_path / "single"
    subprocess.run(
        dvcore_cli("run", str(tiny_recipe), "--run-dir", str(single), *steps, "--set", "train.batch_size=8"),
        env=env,
        check=True,
        capture_output=True,
    )
    ddp = tmp_path / "ddp"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    proc = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "dvcore.cli",
            "run",
            str(tiny_recipe),
            "--run-dir",
            str(ddp),
            *steps,
            "--set",
            "train.batch_size=4",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = final_weights(single), final_weights(ddp)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    assert len(checkpoint.list_checkpoints(ddp / "checkpoints")) == 1  # rank 0 alone wrote it


def test_grad_checkpointing_reaches_every_capable_module_and_is_refused_otherwise(
    testplug, tiny_recipe, tmp_path
):
    from dvcore.errors import RecipeError

    with pytest.raises(
        RecipeError, match=r"train\.grad_checkpointing: backbone 'tiny_conv' does not support it"
    ):
        trainer_for(tiny_recipe, tmp_path / "run", "train.grad_checkpointing=true")
