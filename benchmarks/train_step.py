"""Training-step throughput and peak memory of the UNet at 64x64: fp32, bf16, channels_last, compile.

    .venv/bin/python benchmarks/train_step.py                       # CPU, a few minutes
    .venv/bin/python benchmarks/train_step.py --device cuda --full  # the lab notes' UNet on a GPU
    .venv/bin/python benchmarks/train_step.py --set train.batch_size=8 --variants fp32 bf16

Every variant is a real ``dvcore.train.trainer.Trainer``, built the way ``dvcore run`` builds one:
a recipe (``BASE_RECIPE`` below, or ``--recipe``) with ``--set`` overrides, validated by
``dvcore.recipe``, components from ``dvcore.run.build_components``, then the variant's own
overrides (``train.precision``, ``train.channels_last``, ``train.compile``, ...). So a step is
exactly the trainer's: next batch, autocast forward, loss, (scaled) backward, unscale, clip,
non-finite check, optimizer step, zero grads. Two things are switched off because they are not
part of a step: the evaluation and the checkpoint that ``Trainer.fit`` runs when it returns.

Timing: each variant trains ``--warmup`` steps first (for ``compile`` this is where torch.compile
traces and builds kernels, ~20 s and more on CPU; that time is reported separately). Then the
variants train ``--steps`` steps each in interleaved rounds (round r trains variant 1, 2, ...), so
the varying load of a shared machine falls on all alike; step time = median over rounds of the
round's seconds / steps. Peak memory: one more step per variant, measured as in
``benchmarks/backbones.py`` (tensor memory allocated during the step above what was held before
it: activations, gradients, optimizer temporaries; the weights and AdamW state held between steps
are not in it). The task is ``interpolate`` on ``moving_shapes`` (4 context frames in, 12 channels;
the middle frame out), the one task the core has today; a generation step differs only in the
stem's input channels. The clips are rendered once into memory before timing (with one intra-op
thread) and served through the trainer's own loader: rendering in the step's thread with all
intra-op threads costs as much as the step on a busy machine (measured and shown beside the table).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from backbones import FULL_CONFIGS, THREADS_NOTE  # a sibling script
from bench import command_line, load_line, machine, timed, write_report
from memtrack import peak_memory_mb

from dvcore.errors import RecipeError
from dvcore.plugins import load as load_plugins
from dvcore.recipe import apply_overrides, parse_toml, structure
from dvcore.run import build_components, count_parameters
from dvcore.seeding import seed_everything
from dvcore.tasks.base import EvalResult
from dvcore.track.base import Tracker
from dvcore.train.trainer import Trainer

RESULTS = Path(__file__).resolve().parent / "results"

BASE_RECIPE = """
experiment = "bench_train_step"
seed = 0

[task]
name = "interpolate"

[data]
name = "moving_shapes"
size = 64
num_train = 64
num_eval = 8

[model]
name = "unet"
base_channels = 64
channel_mult = [1, 2, 4]
attention_factors = [4]
attn_head_dim = 64

[loss]
name = "pixel"

[train]
batch_size = 4
lr = 1e-4
lr_schedule = "constant"
warmup_steps = 0
log_every = 1000000
num_workers = 0
prefetch = 0

[eval]
batch_size = 4
max_samples = 4

[tracker]
name = "none"
"""

# --full: the UNet of docs/lab_notes.md §G9, channels [64 .. 1024], attention at 1/8 and 1/16;
# it replaces the base recipe's [model] table (the explicit schema excludes the compact fields).
FULL_MODEL = {  # backbones.py's --full unet (its attention head width left at the recipe's default)
    "name": "unet",
    **{k: v for k, v in FULL_CONFIGS["unet"][0].items() if k != "attn_head_dim"},
}
FULL_BATCH = 32

# name -> the [train] overrides that make it; compile variants last (their warm-up is long).
VARIANTS: dict[str, list[str]] = {
    "fp32": [],
    "bf16": ['train.precision="bf16"'],
    "fp16": ['train.precision="fp16"'],
    "channels_last": ["train.channels_last=true"],
    "bf16+channels_last": ['train.precision="bf16"', "train.channels_last=true"],
    # the backbone's own option: train.grad_checkpointing needs a top-level model attribute that
    # the unet (whose blocks carry the flag) does not have, so the trainer refuses it
    "grad_checkpointing": ["model.grad_checkpointing=true"],
    "compile": ["train.compile=true"],
    "compile+bf16": ["train.compile=true", 'train.precision="bf16"'],
    "compile+bf16+channels_last": [
        "train.compile=true",
        'train.precision="bf16"',
        "train.channels_last=true",
    ],
}
DEFAULT_VARIANTS = {
    # fp16 autocast on CPU is slow emulation and its GradScaler exists for GPUs; it is a GPU row.
    "cpu": [
        "fp32",
        "bf16",
        "channels_last",
        "bf16+channels_last",
        "grad_checkpointing",
        "compile",
        "compile+bf16",
    ],
    "cuda": list(VARIANTS),
}


class LastScalars(Tracker):
    """A tracker that keeps the last logged training scalars (the loss, for the table)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None:
        if context == "train":
            self.last = dict(values)


@dataclass
class Variant:
    name: str
    trainer: Trainer
    tracker: LastScalars
    parameters: int
    warmup_s: float = 0.0
    step_times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    peak_mb: float = float("nan")

    def train(self, steps: int) -> tuple[float, float]:
        """Train ``steps`` more optimizer steps; return the wall and the process CPU seconds."""
        self.trainer.max_steps = self.trainer.step + steps
        return timed(self.trainer.fit, self.trainer.device)


def build_variant(
    name: str, base: dict, overrides: list[str], device: str, run_root: Path, cache: dict[str, Prerendered]
) -> Variant:
    """A Trainer for one variant; every variant trains on the same pre-rendered clips."""
    registry = load_plugins().registry
    data = apply_overrides(copy.deepcopy(base), [f'device="{device}"', *overrides, *VARIANTS[name]])
    recipe = structure(data, registry)
    seed_everything(recipe.seed)  # the same initial weights and data order for every variant
    components = build_components(recipe, registry)
    splits = components.task.datasets()  # the task's own dict: the Trainer reads the splits from it
    for split in ("train", "eval"):
        if split not in cache:
            cache[split] = Prerendered(splits[split])
        splits[split] = cache[split]
    tracker = LastScalars()
    trainer = Trainer(
        recipe,
        components.task,
        components.model,
        run_dir=run_root / name,
        tracker=tracker,
        device=torch.device(device),
        progress=False,
    )
    # Not part of a training step: the eval and checkpoint that fit() runs when it returns.
    trainer.evaluate = lambda: EvalResult({})
    trainer.save_checkpoint = lambda: run_root / name
    return Variant(name, trainer, tracker, count_parameters(components.model))


class Prerendered(Sequence):
    """A dataset's samples, rendered once into memory with one intra-op thread."""

    def __init__(self, dataset: Sequence[dict[str, Any]]):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a clip is a few hundred tiny ops: more threads only add overhead
        try:
            self.items = [dataset[i] for i in range(len(dataset))]
        finally:
            torch.set_num_threads(threads)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def render_ms_per_clip(dataset: Sequence[dict[str, Any]], threads: int, clips: int = 8) -> float:
    """Milliseconds to render one clip with ``threads`` intra-op threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dataset[0]
        start = time.perf_counter()
        for i in range(clips):
            dataset[i % len(dataset)]
        return (time.perf_counter() - start) / clips * 1e3
    finally:
        torch.set_num_threads(before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--full", action="store_true", help="the lab notes' [64 .. 1024] UNet (for a GPU)")
    parser.add_argument("--recipe", type=Path, help="base recipe (default: BASE_RECIPE in this file)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), help="default: all that fit the device"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed steps per variant (compile happens here)"
    )
    parser.add_argument("--steps", type=int, default=2, help="steps per variant per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default: 1 on CPU, as in backbones.py; torch's own on CUDA)",
    )
    parser.add_argument(
        "--out", type=Path, help="markdown file (default results/train_step[_cuda][_full].md)"
    )
    args = parser.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    args.threads = args.threads or (1 if args.device == "cpu" else torch.get_num_threads())
    torch.set_num_threads(args.threads)
    base = parse_toml(args.recipe) if args.recipe else tomllib.loads(BASE_RECIPE)
    overrides = [f"train.batch_size={FULL_BATCH}"] if args.full else []
    overrides += args.overrides
    if args.full:
        base["model"] = dict(FULL_MODEL)
    names = args.variants or DEFAULT_VARIANTS[args.device]
    suffix = ("_cuda" if args.device == "cuda" else "") + ("_full" if args.full else "")
    out = args.out or RESULTS / f"train_step{suffix}.md"

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cache: dict[str, Prerendered] = {}
            variants = [build_variant(n, base, overrides, args.device, Path(tmp), cache) for n in names]
        except RecipeError as exc:
            sys.exit("\n".join(exc.problems))
        batch = variants[0].trainer.cfg.batch_size
        source = load_plugins().registry.get("dataset", variants[0].trainer.recipe.data.name)
        raw = source.build(variants[0].trainer.recipe.data.options, split="train", seed=0)
        render_ms = {n: render_ms_per_clip(raw, n) for n in sorted({1, args.threads, os.cpu_count() or 1})}
        for v in variants:
            v.warmup_s = v.train(args.warmup)[0]
            print(f"  warm-up {v.name}: {args.warmup} steps in {v.warmup_s:.1f} s", file=sys.stderr)
        for r in range(args.rounds):
            for v in variants:
                wall, cpu = v.train(args.steps)
                v.step_times.append(wall / args.steps)
                v.cpu_times.append(cpu / args.steps)
            print(
                f"  round {r + 1}/{args.rounds}: "
                + ", ".join(f"{v.name} {v.step_times[-1]:.2f} s/step" for v in variants),
                file=sys.stderr,
            )
        for v in variants:
            v.peak_mb = peak_memory_mb(lambda v=v: v.train(1), v.trainer.device)
    load_after = os.getloadavg()

    recipe = variants[0].trainer.recipe
    cpu = args.device == "cpu"
    fp32 = next((v for v in variants if v.name == "fp32"), None)
    lines = [
        f"# Training step: {recipe.model.name} at {recipe.data.options.size}x{recipe.data.options.size}, "
        f"batch {batch}, through dvcore's Trainer" + (" (--full)" if args.full else ""),
        "",
        f"Command: `{command_line('train_step.py', argv)}`",
        "",
        *machine(torch.device(args.device), args.threads),
        load_line(load_before, load_after),
        f"- model: {recipe.model.name}, {variants[0].parameters / 1e6:.2f}M parameters, task "
        f"{recipe.task.name} "
        f"({variants[0].trainer.task.channels()[0]} channels in, {variants[0].trainer.task.channels()[1]} "
        "out), "
        f"optimizer {recipe.train.optimizer}, clip_grad_norm {recipe.train.clip_grad_norm}",
        f"- [model]: `{json.dumps(base['model'])}`",
        f"- {args.warmup} warm-up steps per variant, then {args.rounds} interleaved rounds of {args.steps} "
        "steps; "
        "step time = median over rounds"
        + ("; CPU time = process CPU seconds per step; one thread by default: " + THREADS_NOTE if cpu else "")
        + ". Warm-up includes torch.compile's tracing and kernel builds; inductor caches them on disk "
        "(/tmp/torchinductor_<user>), so a rerun's compile warm-up is much shorter than the first",
        f"- data: the {len(cache['train'])} train clips are rendered once, before timing, and served from "
        "memory through the trainer's loader (num_workers = 0), so a step times the model, not the renderer. "
        "Rendering one clip in the step's thread would cost "
        + ", ".join(f"{ms:.0f} ms with {n} thread{'s' if n > 1 else ''}" for n, ms in render_ms.items()),
        "- peak memory: tensor memory allocated during one step above what was held before it "
        + (
            "(torch.cuda.max_memory_allocated)"
            if args.device == "cuda"
            else "(PyTorch's CPU allocator via torch.profiler profile_memory; not RSS)"
        ),
        "- loss: the training loss at the last step, the same data and initial weights for every variant",
        "",
        "| variant | step time | samples/s | vs fp32 |"
        + (" CPU time | vs fp32 (CPU) |" if cpu else "")
        + f" peak memory | warm-up | loss at step {variants[0].trainer.step} |",
        "|---|---|---|---|" + ("---|---|" if cpu else "") + "---|---|---|",
    ]
    for v in variants:
        step, cpu_step = statistics.median(v.step_times), statistics.median(v.cpu_times)
        row = f"| {v.name} | {step * 1e3:.0f} ms | {batch / step:.2f} |"
        row += f" {statistics.median(fp32.step_times) / step:.2f}x |" if fp32 else " |"
        if cpu:
            row += f" {cpu_step * 1e3:.0f} ms |"
            row += f" {statistics.median(fp32.cpu_times) / cpu_step:.2f}x |" if fp32 else " |"
        row += f" {v.peak_mb:.0f} MiB | {v.warmup_s:.1f} s | {v.tracker.last.get('loss', float('nan')):.5f} |"
        lines.append(row)
    lines += ["", "Variant overrides (on top of the base recipe and `--set`):", ""]
    lines += [f"- {n}: `{' '.join(VARIANTS[n]) or '(none)'}`" for n in names]
    if overrides:
        lines += ["", f"Common overrides: `{' '.join(overrides)}`"]
    write_report(out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
