"""The patch interpolator at full frame: peak memory, FLOPs and frames/s, and the memory model that bounds them.

    .venv/bin/python benchmarks/interp_memory.py

The notes' GPU setting (recipes/interp_n5_gpu.toml: size L = d_model 512, depth 8, 8 heads;
src_field 16 -> tgt_field 8, pixel tokens, 4 context frames in, bf16) at 448x256, batch 1 and 8,
training (forward + backward) and inference, with ``window_chunk`` and activation checkpointing
(``train.grad_checkpointing``, which recomputes each chunk of windows in backward).

How it is measured, on a CPU-only machine:

- Peak memory: ``benchmarks/memtrack.PeakMemory`` counts the storage of every tensor alive
  while the step runs. At full frame the step runs under ``FakeTensorMode``: every op is
  dispatched with its true shapes and dtypes, nothing is computed, so the peak of a step that
  needs hundreds of GB is measured exactly (what it counts; allocator rounding and workspace
  aside). That fake and real runs give the same figure is checked here on a small crop.
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode``, also under fake tensors.
- Speed: real CPU runs on a crop of a few windows; the work is per window (every window is an
  independent sequence), so frames/s at full frame = windows/s / windows per frame.

The memory model (tokens G^2 = (src_field / token_patch)^2 per window, N = B x windows per
frame, width D, layers L, s bytes per element):

    training, no checkpointing:  M ~ weights + a * N * G^2 * D * L * s
    training, chunk c + ckpt:    M ~ weights + N * (window in + block out) + a * c * G^2 * D * L * s
    inference, chunk c:          M ~ weights + N * (window in + block out) + k * c * G^2 * D * s

``a`` (activations saved per token, layer and channel) and ``k`` (the widest live set of one
layer) are read off the full-size measurement and checked for constancy across batch and depth.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from backbones import command_line, load_line  # a sibling script
from memtrack import PeakMemory
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.flop_counter import FlopCounterMode

from dvcore.plugins import registry as default_registry

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = {"size": "L", "src_field": 16, "tgt_field": 8, "tokens": "linear", "token_patch": 1}
IN_CHANNELS, OUT_CHANNELS = 12, 3  # 4 context frames of 3 channels in, the middle frame out
WIDTH, HEIGHT = 448, 256


def build(**overrides: Any) -> torch.nn.Module:
    component = default_registry().get("backbone", "patch_interpolator")
    options = component.options(**{**MODEL, **overrides})
    return component.build(options, in_channels=IN_CHANNELS, out_channels=OUT_CHANNELS)


def step(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, train: bool, precision: str) -> None:
    """Forward (and backward when training) under the recipe's autocast."""
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    with torch.set_grad_enabled(train), cast:
        out = model(x, t)  # (B, 3, H, W)
    if train:
        out.float().square().mean().backward()


def measure(
    model: torch.nn.Module, batch: int, h: int, w: int, train: bool, precision: str, fake: bool
) -> float:
    """Peak MiB of one step (weights included; gradients freed before)."""
    model.train(train)
    model.zero_grad(set_to_none=True)
    mode = FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext()
    with mode:
        x = torch.rand(batch, IN_CHANNELS, h, w)  # (B, 12, H, W)
        t = torch.zeros(batch)
        with PeakMemory(model.parameters(), model.buffers(), x, t) as tracker:
            step(model, x, t, train, precision)
    model.zero_grad(set_to_none=True)
    return tracker.peak_mb


def flops_per_frame(model: torch.nn.Module, train: bool) -> float:
    model.train(train)
    with FakeTensorMode(allow_non_fake_inputs=True), FlopCounterMode(display=False) as counter:
        x, t = torch.rand(1, IN_CHANNELS, HEIGHT, WIDTH), torch.zeros(1)
        step(model, x, t, train, "fp32")
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def windows_per_frame(model: Any, h: int, w: int) -> int:
    return -(-h // model.tgt_field) * -(-w // model.tgt_field)


def timed(
    model: torch.nn.Module, h: int, w: int, train: bool, precision: str, rounds: int
) -> tuple[float, float, float]:
    """CPU seconds per window of a real step on an (h, w) crop: median, min, max over rounds."""
    model.train(train)
    x, t = torch.rand(1, IN_CHANNELS, h, w), torch.zeros(1)
    step(model, x, t, train, precision)  # warm-up
    per_window = []
    for _ in range(rounds):
        model.zero_grad(set_to_none=True)
        start = time.process_time()
        step(model, x, t, train, precision)
        per_window.append((time.process_time() - start) / windows_per_frame(model, h, w))
    return statistics.median(per_window), min(per_window), max(per_window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunk", type=int, default=256, help="window_chunk of the chunked rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--crop", type=int, default=16, help="side of the crop the speed is measured on")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "interp_memory.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    torch.manual_seed(0)

    plain, chunked = build(), build(window_chunk=args.chunk)
    chunked.load_state_dict(plain.state_dict())
    depth, width, _ = plain.blocks.__len__(), plain.norm.normalized_shape[0], None
    tokens = plain.grid**2
    per_frame = windows_per_frame(plain, HEIGHT, WIDTH)
    weights_mb = sum(p.numel() * 4 for p in plain.parameters()) / 2**20

    # 1. the tracker under fake tensors measures what a real run allocates (a small crop, size S)
    small = build(size="S")
    check = {
        (train, fake): measure(small, 2, 24, 24, train, "fp32", fake)
        for train in (True, False)
        for fake in (False, True)
    }

    # 2. full frame: every combination, measured under fake tensors
    rows, fits = [], {}
    for train in (True, False):
        for precision in ("fp32", "bf16"):
            for batch in (1, 8):
                variants = [
                    ("all windows at once", plain, False),
                    (f"window_chunk {args.chunk}", chunked, False),
                ]
                if train:
                    variants.append((f"window_chunk {args.chunk} + checkpointing", chunked, True))
                for name, model, ckpt in variants:
                    model.grad_checkpointing = ckpt
                    peak = measure(model, batch, HEIGHT, WIDTH, train, precision, fake=True)
                    model.grad_checkpointing = False
                    n = batch * per_frame
                    live = args.chunk if (ckpt or (not train and model is chunked)) else n
                    unit = live * tokens * width * (depth if train else 1) * (4 if precision == "fp32" else 2)
                    coeff = (peak - weights_mb) * 2**20 / unit
                    fits[train, precision, batch, name] = coeff
                    rows.append((("training" if train else "inference"), precision, batch, name, peak, coeff))

    # 3. a model with half the layers: the coefficient must not move (memory is linear in layers)
    half = build(depth=depth // 2)
    peak_half = measure(half, 1, HEIGHT, WIDTH, True, "fp32", fake=True)
    weights_half = sum(p.numel() * 4 for p in half.parameters()) / 2**20
    coeff_half = (peak_half - weights_half) * 2**20 / (per_frame * tokens * width * (depth // 2) * 4)

    # 4. FLOPs and CPU speed (real), per window
    flops = {train: flops_per_frame(plain, train) for train in (True, False)}
    speed = {
        (train, p): timed(plain, args.crop, args.crop, train, p, args.rounds)
        for train in (True, False)
        for p in ("fp32", "bf16")
    }
    load_after = os.getloadavg()

    a = fits[True, "fp32", 1, "all windows at once"]
    lines = [
        "# The patch interpolator at full frame (448x256): memory, FLOPs, speed",
        "",
        f"Command: `{command_line('interp_memory.py', argv)}`",
        "",
        f"- model: patch_interpolator size L (d_model {width}, depth {depth}, 8 heads), src_field 16 -> tgt_field 8, "
        f"pixel tokens (G^2 = {tokens} tokens per window), {IN_CHANNELS} channels in (4 frames), "
        f"{sum(p.numel() for p in plain.parameters()) / 1e6:.1f}M parameters ({weights_mb:.0f} MiB fp32)",
        f"- {per_frame} windows per 448x256 frame; batch 8 = {8 * per_frame} windows",
        "- peak memory: every tensor alive during one step (weights included; gradients of the step included, "
        "optimizer state not), measured with benchmarks/memtrack.py under FakeTensorMode on a CPU-only machine "
        "(shapes and dtypes exact, nothing computed). No GPU was available: the figures are tensor payloads, "
        "CUDA's caching allocator adds its rounding and cuDNN/SDPA workspaces on top",
        f"- check, fake vs real on a 24x24 crop (size S, batch 2): training {check[True, True]:.1f} vs "
        f"{check[True, False]:.1f} MiB, inference {check[False, True]:.1f} vs {check[False, False]:.1f} MiB",
        load_line(load_before, load_after),
        "",
        "| step | precision | batch | windows | peak memory | coefficient |",
        "|---|---|---|---|---|---|",
    ]
    for mode, precision, batch, name, peak, coeff in rows:
        lines.append(f"| {mode} | {precision} | {batch} | {name} | {peak / 1024:.2f} GiB | {coeff:.2f} |")
    lines += [
        "",
        "Coefficient: (peak - weights) / (live windows x tokens x width x layers x bytes per element), the layers "
        "factor for training only; live windows = all N windows without checkpointing in training, the chunk "
        "with checkpointing or in chunked inference. For training without checkpointing it is `a` of the model, "
        f"the activations saved per token, channel and layer: {a:.1f} (fp32, batch 1); with half the layers "
        f"(depth {depth // 2}) it is {coeff_half:.1f}, and batch 8 gives {fits[True, 'fp32', 8, 'all windows at once']:.1f}: "
        "memory is linear in tokens x windows x width x layers, as the model says.",
        "",
        "## Speed (CPU, real compute)",
        "",
        f"FLOPs per 448x256 frame: training {flops[True] / 1e12:.1f} TFLOP, inference {flops[False] / 1e12:.1f} TFLOP "
        f"({flops[False] / per_frame / 1e9:.2f} GFLOP per window). CPU time per window on a {args.crop}x{args.crop} "
        f"crop ({windows_per_frame(plain, args.crop, args.crop)} windows, one thread), median (min-max) over {args.rounds} rounds:",
        "",
        "| step | precision | CPU ms per window | frames/s at 448x256, batch 1 (one core) | GFLOP/s |",
        "|---|---|---|---|---|",
    ]
    for (train, precision), (med, lo, hi) in speed.items():
        fl = flops[train] / per_frame
        lines.append(
            f"| {'training' if train else 'inference'} | {precision} | {med * 1e3:.0f} ({lo * 1e3:.0f}-{hi * 1e3:.0f}) | "
            f"{1 / (med * per_frame):.4f} | {fl / med / 1e9:.1f} |"
        )
    lines.append("")
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
