"""The prepared GPU check runs end to end on the CPU at tiny sizes (its own dry run; no timing asserted)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path, monkeypatch):
    for module in ("dvcore_diffusers", "dvcore_unet", "dvcore_interp", "skimage"):
        pytest.importorskip(module)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import gpu_check

    out = tmp_path / "gpu.md"
    args = [
        "--device",
        "cpu",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--variants",
        "fp32",
        "bf16",
        "--out",
        str(out),
    ]
    assert gpu_check.main(args) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| (interp_n5_gpu|faces_unet_64) \|", line)]
    assert len(rows) == 4 and not any("failed" in row for row in rows), text
    for row in rows:
        images_per_s = float(row.split("|")[6])
        assert images_per_s > 0
    versus = (tmp_path / "gpu_vs_diffusers.md").read_text()
    assert "dvcore Trainer" in versus and "diffusers DDIMPipeline" in versus
    sys.modules.pop("gpu_check", None)


def test_peak_memory_counts_the_same_under_fake_tensors(monkeypatch):
    """benchmarks/interp_memory.py measures full-frame steps under FakeTensorMode: the count must be
    the one a real step gives, and the activations kept for backward must be in it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import contextlib

    import torch
    from memtrack import PeakMemory
    from torch._subclasses.fake_tensor import FakeTensorMode

    peaks = {}
    for fake in (False, True):  # the model is built in the fake mode, as interp_memory.py builds it
        with FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext():
            model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 64))
            x = torch.randn(128, 64)  # (B, 64)
            with PeakMemory(model.parameters(), x) as tracker:
                model(x).square().mean().backward()
        peaks[fake] = tracker.peak
    assert peaks[True] == peaks[False]
    weights = sum(p.numel() * 4 for p in model.parameters())
    hidden = 128 * 256 * 4  # one (B, 256) fp32 activation
    assert (
        peaks[False] >= 2 * weights + 128 * 64 * 4 + 2 * hidden
    )  # weights, grads, input, pre- and post-GELU
    sys.modules.pop("memtrack", None)


def test_sampler_quality_answer_takes_the_fewest_evaluations_within_ddim50s_range(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import sampler_quality

    fd = {
        ("ddim", 10): [9.0, 11.0],
        ("ddim", 50): [5.0, 6.0],  # the target: 6.0, the worse noise set
        ("heun", 5): [5.5, 6.4],  # mean 5.95 <= 6.0 at 9 evaluations
        ("dpmsolver++", 10): [6.5, 6.7],  # 10 evaluations, mean 6.6: not reached
    }
    nfe = {("ddim", 10): 10, ("ddim", 50): 50, ("heun", 5): 9, ("dpmsolver++", 10): 10}
    text = sampler_quality.answer(fd, nfe)
    assert text.startswith("**Answer:** heun with 5 steps (9 model evaluations, FD 5.95)"), text
    assert "at most 6.00" in text
    assert sampler_quality.answer(
        {("ddim", 50): [5.0, 6.0], ("euler", 5): [9.0, 9.0]}, nfe | {("euler", 5): 5}
    ).startswith("**Answer:** ddim with 50 steps")
    sys.modules.pop("sampler_quality", None)
