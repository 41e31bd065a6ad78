"""The patch interpolator at full frame: peak memory, FLOPs and frames/s, and the memory model.

    .venv/bin/python benchmarks/interp_memory.py

The notes' GPU setting (recipes/interp_n5_gpu.toml: size L = d_model 512, depth 8, 8 heads;
src_field 16 -> tgt_field 8, pixel tokens, 4 context frames in, bf16) at 448x256, batch 1 and 8,
training (forward + backward) and inference, with ``window_chunk`` and activation checkpointing
(``train.grad_checkpointing``, which recomputes each chunk of windows in backward); and the
geometry the notes ran out of memory with (src_field 24 -> tgt_field 16, batch 1).

How it is measured, on a CPU-only machine:

- Peak memory: ``benchmarks/memtrack.PeakMemory`` counts the storage of every tensor alive
  while the step runs. At full frame the step runs under ``FakeTensorMode``: every op is
  dispatched with its true shapes and dtypes, nothing is computed, so the peak of a step that
  needs hundreds of GB is measured exactly (what it counts; allocator rounding and workspace
  aside). That fake and real runs give the same figure is checked here on a small crop.
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode``, also under fake tensors.
- Speed: real CPU runs on a crop of a few windows; the work is per window (every window is an
  independent sequence), so frames/s at full frame = windows/s / windows per frame.

The memory model (G^2 = (src_field / token_patch)^2 tokens per window, N = batch x windows per
frame, width D, layers L; W the weights' bytes, e the bytes of one window's input and output):

    training, all windows at once:   M = 2 W + a * N * G^2 * D * L          (weights + grads)
    training, chunk c + checkpoint:  M = 2 W + e * N + a * c * G^2 * D * L
    inference, all windows:          M = W + k * N * G^2 * D
    inference, chunk c:              M = W + e * N + k * c * G^2 * D

``a`` (bytes kept for backward per token, channel and layer) and ``k`` (bytes of the widest live
set of one layer per token and channel) are fitted per precision on one measurement each
(src 16 -> 8, batch 1, all windows); every other row is then a prediction, set beside its
measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import torch
from bench import Session, command_line, header, machine, median_spread, row, write_report
from memtrack import PeakMemory
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.flop_counter import FlopCounterMode

from dvcore.plugins import registry as default_registry

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = {"size": "L", "src_field": 16, "tgt_field": 8, "tokens": "linear", "token_patch": 1}
IN_CHANNELS, OUT_CHANNELS = 12, 3  # 4 context frames of 3 channels in, the middle frame out
WIDTH, HEIGHT = 448, 256


# One fake mode for every full-frame measurement: the models measured in it are built in it, so
# their weights are fake too and a view of a weight shares its storage, as it does in a real run.
FAKE = FakeTensorMode(allow_non_fake_inputs=True)


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
    mode = FAKE if fake else contextlib.nullcontext()
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
    model: torch.nn.Module, h: int, w: int, train: bool, precision: str, rounds: int, ckpt: bool = False
) -> tuple[float, float, float]:
    """CPU seconds per window of a real step on an (h, w) crop: median, min, max over rounds."""
    model.train(train)
    model.grad_checkpointing = ckpt
    x, t = torch.rand(1, IN_CHANNELS, h, w), torch.zeros(1)
    step(model, x, t, train, precision)  # warm-up
    per_window = []
    for _ in range(rounds):
        model.zero_grad(set_to_none=True)
        start = time.process_time()
        step(model, x, t, train, precision)
        per_window.append((time.process_time() - start) / windows_per_frame(model, h, w))
    model.grad_checkpointing = False
    return median_spread(per_window)


# src -> tgt field: options, and the window_chunk of its batch-1 chunked rows (a quarter of a frame's
# windows); batch 8 chunks by a whole frame's windows (8 chunks: the fake-tensor run is Python-bound)
GEOMETRIES = {"16->8": ({}, 448), "24->16": ({"src_field": 24, "tgt_field": 16}, 112)}  # the notes' OOM


def row_name(train: bool, ckpt: bool, chunked: bool, chunk: int) -> str:
    if not chunked:
        return "all windows at once"
    return f"window_chunk {chunk}" + (" + checkpointing" if ckpt else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--crop", type=int, default=16, help="side of the crop the speed is measured on")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "interp_memory.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    session = Session()
    torch.manual_seed(0)

    # 1. the tracker under fake tensors measures what a real run allocates (a small crop, size S)
    small = {False: build(size="S")}
    with FAKE:
        small[True] = build(size="S")
    check = {
        (train, fake): measure(small[fake], 2, 24, 24, train, "fp32", fake)
        for train in (True, False)
        for fake in (False, True)
    }

    # 2. full frame, measured under fake tensors
    measured: list[dict[str, Any]] = []
    models: dict[str, dict[str, Any]] = {}
    for geometry, (extra, chunk) in GEOMETRIES.items():
        with FAKE:
            plain = build(**extra)
            chunked = build(**extra, window_chunk=chunk)
        models[geometry] = {
            "tokens": plain.grid**2,
            "per_frame": windows_per_frame(plain, HEIGHT, WIDTH),
            "window_bytes": (IN_CHANNELS * plain.src_field**2 + OUT_CHANNELS * plain.tgt_field**2) * 4,
            "weights": sum(p.numel() * 4 for p in plain.parameters()),
        }
        batches = (1, 8) if geometry == "16->8" else (1,)
        for train, precision, batch in itertools.product((True, False), ("fp32", "bf16"), batches):
            variants = [(plain, False), (chunked, False)] + ([(chunked, True)] if train else [])
            chunked.window_chunk = c = chunk if batch == 1 else 4 * chunk
            for model, ckpt in variants:
                model.grad_checkpointing = ckpt
                peak = measure(model, batch, HEIGHT, WIDTH, train, precision, fake=True) * 2**20
                model.grad_checkpointing = False
                measured.append(
                    {"geometry": geometry, "train": train, "precision": precision, "batch": batch,
                     "chunked": model is chunked, "chunk": c, "ckpt": ckpt, "depth": DEPTH, "peak": peak}
                )  # fmt: skip
    with FAKE:
        half = build(depth=DEPTH // 2)  # memory must be linear in layers
    for precision in ("fp32", "bf16"):
        peak = measure(half, 1, HEIGHT, WIDTH, True, precision, fake=True) * 2**20
        measured.append(
            {"geometry": "16->8", "train": True, "precision": precision, "batch": 1, "chunked": False,
             "ckpt": False, "depth": DEPTH // 2, "peak": peak}
        )  # fmt: skip

    # 3. the model: fit a and k per precision on (16->8, batch 1, all windows, full depth); predict the rest
    def unit(m: dict[str, Any], geometry: str, live: int) -> float:
        return live * models[geometry]["tokens"] * WIDTH_D * (m["depth"] if m["train"] else 1)

    def fixed(m: dict[str, Any], geometry: str) -> float:
        g = models[geometry]
        weights = g["weights"] * (m["depth"] / DEPTH if m["depth"] != DEPTH else 1)
        n = m["batch"] * g["per_frame"]
        return (2 if m["train"] else 1) * weights + (g["window_bytes"] * n if m["chunked"] else 0)

    def live(m: dict[str, Any]) -> int:
        n = m["batch"] * models[m["geometry"]]["per_frame"]
        chunk_bounds = m["chunked"] and (m["ckpt"] or not m["train"])
        return min(m["chunk"], n) if chunk_bounds else n

    coeff = {}
    for m in measured:
        if m["geometry"] == "16->8" and m["batch"] == 1 and not m["chunked"] and m["depth"] == DEPTH:
            coeff[m["train"], m["precision"]] = (m["peak"] - fixed(m, "16->8")) / unit(m, "16->8", live(m))
    for m in measured:
        m["predicted"] = fixed(m, m["geometry"]) + coeff[m["train"], m["precision"]] * unit(
            m, m["geometry"], live(m)
        )

    # 4. FLOPs and CPU speed (real), per window, geometry 16 -> 8
    plain = build()
    flops = {train: flops_per_frame(plain, train) for train in (True, False)}
    speed = {
        (train, p, ckpt): timed(plain, args.crop, args.crop, train, p, args.rounds, ckpt)
        for train, p, ckpt in ((True, "fp32", False), (True, "fp32", True), (False, "fp32", False))
    }  # fmt: skip
    per_frame = models["16->8"]["per_frame"]
    write_report(
        args.out, "\n".join(report(args, argv, session, check, measured, models, coeff, flops, speed))
    )
    del per_frame
    return 0


WIDTH_D, DEPTH = 512, 8  # size L


def report(
    args: argparse.Namespace, argv: list[str] | None, session: Session, check: dict, measured: list[dict],
    models: dict, coeff: dict, flops: dict, speed: dict,
) -> list[str]:  # fmt: skip
    per_frame = models["16->8"]["per_frame"]
    weights = models["16->8"]["weights"]
    lines = [
        "# The patch interpolator at full frame (448x256): memory, FLOPs, speed",
        "",
        f"Command: `{command_line('interp_memory.py', argv)}`",
        "",
        *machine(torch.device("cpu"), args.threads),
        *session.lines(),
        f"- model: patch_interpolator size L (d_model {WIDTH_D}, depth {DEPTH}, 8 heads), pixel tokens, "
        f"{IN_CHANNELS} channels in (4 frames), {weights / 4 / 1e6:.1f}M parameters "
        f"({weights / 2**20:.0f} MiB fp32); geometry src_field -> tgt_field 16 -> 8 (the GPU recipe: "
        f"{models['16->8']['tokens']} tokens per window, {per_frame} windows per frame, batch 8 = "
        f"{8 * per_frame}) and 24 -> 16 (the notes' out-of-memory setting: {models['24->16']['tokens']} "
        f"tokens, {models['24->16']['per_frame']} windows per frame)",
        "- peak memory: every tensor alive during one step (weights included; the gradients of the step "
        "included; optimizer state not), counted by benchmarks/memtrack.py under FakeTensorMode on a "
        "CPU-only machine (shapes and dtypes exact, nothing computed). No GPU was available: the figures "
        "are tensor payloads; CUDA's caching allocator adds its rounding and cuDNN/SDPA workspaces on top",
        f"- check, fake vs real on a 24x24 crop (size S, batch 2): training {check[True, True]:.1f} vs "
        f"{check[True, False]:.1f} MiB, inference {check[False, True]:.1f} vs {check[False, False]:.1f} MiB",
        "",
        "## Memory model",
        "",
        "G^2 tokens per window, N = batch x windows per frame, width D, layers L, W = weights' bytes, "
        "e = bytes of one window's input and output block, c = window_chunk:",
        "",
        "    training, all windows:           M = 2 W + a * N * G^2 * D * L",
        "    training, chunk c + checkpoint:  M = 2 W + e * N + a * min(c, N) * G^2 * D * L",
        "    inference, all windows:          M = W + k * N * G^2 * D",
        "    inference, chunk c:              M = W + e * N + k * min(c, N) * G^2 * D",
        "",
        "Fitted on one row each (16 -> 8, batch 1, all windows, depth 8): "
        + ", ".join(
            f"{'a' if train else 'k'} = {value:.1f} bytes ({precision})"
            for (train, precision), value in sorted(coeff.items(), key=lambda kv: (not kv[0][0], kv[0][1]))
        )
        + " per token, channel (and layer). Every other row below is predicted from them.",
        "",
        *header("geometry", "step", "precision", "batch", "depth", "windows", "measured peak", "predicted",
                "measured / predicted"),
    ]  # fmt: skip
    for m in measured:
        name = row_name(m["train"], m["ckpt"], m["chunked"], m.get("chunk", 0))
        lines.append(
            row(m["geometry"], "training" if m["train"] else "inference", m["precision"], m["batch"],
                m["depth"], name, f"{m['peak'] / 2**30:.2f} GiB", f"{m['predicted'] / 2**30:.2f} GiB",
                f"{m['peak'] / m['predicted']:.3f}")
        )  # fmt: skip
    lines += [
        "",
        "## Speed (CPU, real compute)",
        "",
        f"FLOPs per 448x256 frame (16 -> 8): training {flops[True] / 1e12:.1f} TFLOP, inference "
        f"{flops[False] / 1e12:.1f} TFLOP ({flops[False] / per_frame / 1e9:.2f} GFLOP per window). "
        f"CPU time per window on a {args.crop}x{args.crop} crop "
        f"({windows_per_frame(build(), args.crop, args.crop)} windows, one thread), median (min-max) over "
        f"{args.rounds} rounds; frames/s = 1 / (time per window x {per_frame} windows). Every window is an "
        "independent sequence, so the per-window time does not depend on the batch: batch 8 runs at the same "
        "frames/s on one core (8x the time per step). fp32 only: bf16 autocast on this CPU ran ~5x slower "
        "than fp32 in a trial (no native bf16 matmul), which says nothing about a GPU.",
        "",
        *header("step", "precision", "CPU ms per window", "frames/s at 448x256 (one core)", "GFLOP/s"),
    ]
    for (train, precision, ckpt), (med, lo, hi) in speed.items():
        fl = flops[train] / per_frame
        step = ("training" if train else "inference") + (" + checkpointing" if ckpt else "")
        lines.append(
            row(step, precision, f"{med * 1e3:.0f} ({lo * 1e3:.0f}-{hi * 1e3:.0f})",
                f"{1 / (med * per_frame):.5f}", f"{fl / med / 1e9:.1f}")
        )  # fmt: skip
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
