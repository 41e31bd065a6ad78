"""Forward + backward time and peak memory of dvcore's backbones beside diffusers' models.

    .venv/bin/python benchmarks/backbones.py                     # CPU, small configs, a few minutes
    .venv/bin/python benchmarks/backbones.py --device cuda --full  # the lab notes' sizes, on a GPU

Every model sees the same batch (B, 3, S, S) and timesteps, with the same torch threads. One
iteration is: zero the grads, ``out = model(x, t)``, ``out.float().square().mean().backward()``
(CUDA synchronised). After warm-up iterations the models are timed in interleaved rounds (round r
times model 1, 2, ..., then round r + 1), so slow drift in the load of a shared machine falls on
all of them alike; the table shows the median over rounds. Peak memory is measured in one extra,
untimed iteration per model (see ``peak_memory_mb``).

Pairs (same widths, levels, attention placement, head size, GroupNorm groups, time-embedding width):

- ``unet`` vs ``UNet2DModel``: resnet_time_scale_shift = "scale_shift" (dvcore's res blocks scale
  and shift the second GroupNorm too). The level structures are not identical and cannot be made so:
  diffusers keeps a skip after every res block and the downsampler and its up blocks have one more
  res block each (layers_per_block + 1), its lowest-resolution level is a down block plus a 2-resnet
  mid block, while dvcore keeps one skip per level and its middle is 3 res blocks.
- ``unetpp`` has no diffusers counterpart; it is shown beside the same diffusers UNet (same row
  widths and attention rows) because it is the drop-in alternative to it.
- ``dit`` vs ``DiTTransformer2DModel``: same depth, width, heads, patch, MLP ratio 4, no learned
  sigma. diffusers' DiT is class-conditional (``num_embeds_ada_norm`` = 1000 classes plus the null
  label); it is given the null label 1000 for every sample, the unconditional case of
  classifier-free guidance. It also gives every block its own timestep + label embedder (the
  official checkpoint's single embedder is copied into each block when loaded), so it has more
  parameters than the paper's model; the table says how many of them that is. dvcore's DiT is
  unconditional (c = t_emb) and has neither.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from bench import command_line, load_line, machine, synchronize, timed, write_report
from memtrack import peak_memory_mb
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"

# ----------------------------------------------------------------------------------------------
# Configurations, as data: (dvcore backbone, its options, diffusers class, its kwargs)
# ----------------------------------------------------------------------------------------------

# CPU: small enough to time in a few minutes on 2 cores. Attention only at 16x16 (the middle).
CPU_CONFIGS: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "unet": (
        {"base_channels": 64, "channel_mult": [1, 2, 4], "attention_factors": [4], "attn_head_dim": 64},
        "UNet2DModel",
        {
            "block_out_channels": (64, 128, 256),
            "down_block_types": ("DownBlock2D", "DownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "UpBlock2D", "UpBlock2D"),
            "layers_per_block": 2,
            "attention_head_dim": 64,
        },
    ),
    "unetpp": (
        {"depth": 2, "channels": [64, 128, 256], "attn": [False, False, True], "attn_head_dim": 64},
        "UNet2DModel",
        "unet",  # the same diffusers model as the unet row
    ),
    "dit": (
        {"size": "S", "patch": 4},
        "DiTTransformer2DModel",
        {"num_layers": 12, "num_attention_heads": 6, "attention_head_dim": 64, "patch_size": 4},
    ),
}

# --full (a GPU): the lab notes' UNet schema (attention at 1/8 and in the 1024-wide middle), the
# UNet++ defaults, DiT-B/2. At 64x64 input the lab notes' 32x32 attention level sits at 8x8.
FULL_CONFIGS: dict[str, tuple[dict[str, Any], str, dict[str, Any] | str]] = {
    "unet": (
        {
            "channels": [64, 128, 256, 512, 1024],
            "down_attn": [False, False, False, True],
            "down_channel_indices": [[0, 0], [0, 1], [1, 2], [2, 3]],
            "mid_attn": [False, True, False],
            "mid_channel_indices": [[3, 4], [4, 4], [4, 3]],
            "up_attn": [True, False, False],
            "up_channel_indices": [[3, 2], [2, 1], [1, 0]],
            "attn_head_dim": 64,
        },
        "UNet2DModel",
        {
            "block_out_channels": (64, 128, 256, 512, 1024),
            "down_block_types": ("DownBlock2D",) * 3 + ("AttnDownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 3,
            "layers_per_block": 2,
            "attention_head_dim": 64,
        },
    ),
    "unetpp": (
        {"attn_head_dim": 64},  # depth 4, [32, 64, 128, 256, 512], attention in rows 3 and 4
        "UNet2DModel",
        {
            "block_out_channels": (32, 64, 128, 256, 512),
            "down_block_types": ("DownBlock2D",) * 3 + ("AttnDownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 3,
            "layers_per_block": 2,
            "attention_head_dim": 64,
        },
    ),
    "dit": (
        {"size": "B", "patch": 2},
        "DiTTransformer2DModel",
        {"num_layers": 12, "num_attention_heads": 12, "attention_head_dim": 64, "patch_size": 2},
    ),
}

# Why one thread on CPU by default (measured on this project's shared 2-core machine).
THREADS_NOTE = (
    "with 2 threads on 2 shared cores, every parallel region waits for a thread that another process "
    "has descheduled, and both wall and CPU time swung 10x between rounds (dvcore unet 0.5 s to 6 s); "
    "one thread's CPU time only counts while it runs, so it stays comparable under load. On a "
    "dedicated machine pass --threads N"
)

# What a reader of the table needs to know about each pair (the module docstring has more).
PAIR_NOTES = {
    "unet": "same widths per resolution, attention at the same level, same head size, scale-shift "
    "time conditioning in both; diffusers keeps a skip after every res block, gives every up level "
    "one more res block and puts a down block, a 2-resnet mid block and an up block at the lowest "
    "resolution, where dvcore has one skip per level and a 3-block middle, so at equal widths it "
    "does more work (the GFLOP column): compare GFLOP/s for speed per unit of work",
    "unetpp": "there is no UNet++ in diffusers; the row's ratio is against the UNet2DModel of the "
    "unet row (same widths, attention at the same resolution), the model UNet++ would replace",
    "dit": "same depth, width, heads, patch and MLP ratio, no learned sigma; diffusers' DiT is "
    "class-conditional (here always given the null label 1000) and has a timestep + label "
    "embedder in every block, dvcore's is unconditional with one timestep embedder",
}

NULL_CLASS = 1000  # diffusers' DiT: labels 0..999 plus the null label of classifier-free guidance

# ----------------------------------------------------------------------------------------------
# Models behind one call signature: forward(x, t) -> (B, C, H, W)
# ----------------------------------------------------------------------------------------------


class DiffusersUNet(nn.Module):
    """diffusers' UNet2DModel as a dvcore backbone."""

    def __init__(self, size: int, channels: int, kwargs: dict[str, Any]):
        super().__init__()
        from diffusers import UNet2DModel

        self.net = UNet2DModel(
            sample_size=size,
            in_channels=channels,
            out_channels=channels,
            norm_num_groups=32,
            resnet_time_scale_shift="scale_shift",
            **kwargs,
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x, t).sample  # (B, C, H, W)


class DiffusersDiT(nn.Module):
    """diffusers' class-conditional DiTTransformer2DModel, always given the null label."""

    def __init__(self, size: int, channels: int, kwargs: dict[str, Any]):
        super().__init__()
        from diffusers import DiTTransformer2DModel

        self.net = DiTTransformer2DModel(
            in_channels=channels,
            out_channels=channels,
            sample_size=size,
            num_embeds_ada_norm=1000,
            norm_type="ada_norm_zero",
            **kwargs,
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = torch.full((x.shape[0],), NULL_CLASS, dtype=torch.long, device=x.device)  # (B,)
        return self.net(x, timestep=t, class_labels=y).sample  # (B, C, H, W)

    def per_block_embedder_params(self) -> int:
        """Parameters of the timestep + label embedders inside the blocks (the paper has one)."""
        return sum(
            p.numel()
            for name, p in self.net.named_parameters()
            if ".norm1.emb." in name and "blocks.0." not in name
        )


DIFFUSERS = {"UNet2DModel": DiffusersUNet, "DiTTransformer2DModel": DiffusersDiT}


def build_dvcore(name: str, options: dict[str, Any], channels: int) -> nn.Module:
    """A backbone from the registry, with options structured as a recipe would."""
    from dvcore.plugins import load
    from dvcore.recipe import structure

    registry = load().registry
    if ("backbone", name) not in registry:
        sys.exit(f"backbone {name!r} is not registered: pip install -e plugins/dvcore-{name}")
    component = registry.get("backbone", name)
    parsed = structure(options, registry, component.options)
    return component.build(parsed, in_channels=channels, out_channels=channels)


@dataclass
class Entry:
    """One model in the comparison; a dvcore entry points at the diffusers entry it is compared with."""

    backbone: str
    impl: str
    model: nn.Module
    reference: Entry | None = None
    note: str = ""
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    peak_mb: float = float("nan")
    gflop: float = float("nan")  # forward + backward, whole batch

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def build_entries(
    configs: dict, names: list[str], size: int, channels: int, device: torch.device
) -> list[Entry]:
    """Each dvcore backbone, followed by its diffusers counterpart unless an earlier row has it."""
    entries: list[Entry] = []
    built: dict[str, Entry] = {}  # diffusers models by configuration
    for name in names:
        options, cls_name, kwargs = configs[name]
        torch.manual_seed(0)
        ours = Entry(name, "dvcore", build_dvcore(name, options, channels).to(device))
        entries.append(ours)
        if isinstance(kwargs, str):  # the diffusers model of another row
            ours.note = f"no diffusers UNet++; compared with the {kwargs} row's UNet2DModel"
            kwargs = configs[kwargs][2]
        key = json.dumps([cls_name, kwargs], sort_keys=True)
        if key not in built:
            torch.manual_seed(0)
            model = DIFFUSERS[cls_name](size, channels, kwargs).to(device)
            built[key] = Entry(name, f"diffusers {cls_name}", model)
            if isinstance(model, DiffusersDiT):
                built[key].note = (
                    "class-conditional, given the null label; "
                    f"{model.per_block_embedder_params() / 1e6:.2f}M "
                    "params in the per-block t/label embedders of blocks 1..n-1"
                )
            entries.append(built[key])
        ours.reference = built[key]
    return entries


# ----------------------------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------------------------


def count_gflop(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> float:
    """GFLOP of one forward + backward (convolutions, matmuls, attention) by torch's FLOP counter.

    Counted on one sample and multiplied by the batch: every op here is per sample.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        train_iteration(model, x[:1], t[:1])
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() * len(x) / 1e9


def train_iteration(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> None:
    """Zero grads, forward, a scalar loss, backward."""
    model.zero_grad(set_to_none=True)
    out = model(x, t)  # (B, C, H, W)
    out.float().square().mean().backward()


def measure(entries: list[Entry], x: torch.Tensor, t: torch.Tensor, warmup: int, repeats: int) -> None:
    device = x.device
    for entry in entries:
        entry.model.train()
        for _ in range(warmup):
            train_iteration(entry.model, x, t)
        synchronize(device)
    for r in range(repeats):
        for entry in entries:
            wall, cpu = timed(lambda e=entry: train_iteration(e.model, x, t), device)
            entry.times.append(wall)
            entry.cpu_times.append(cpu)
        print(
            f"  round {r + 1}/{repeats}: "
            + ", ".join(f"{e.backbone}/{e.impl.split()[0]} {e.times[-1] * 1e3:.0f} ms" for e in entries),
            file=sys.stderr,
        )
    for entry in entries:
        entry.model.zero_grad(set_to_none=True)
        entry.peak_mb = peak_memory_mb(lambda e=entry: train_iteration(e.model, x, t), device)
        entry.model.zero_grad(set_to_none=True)
        entry.gflop = count_gflop(entry.model, x, t)


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def table(entries: list[Entry], device: torch.device) -> list[str]:
    """One row per model. The ratio and GFLOP/s use CPU time on CPU (see ``main``), wall time on CUDA."""
    cpu = device.type == "cpu"

    def basis(entry: Entry) -> float:
        return statistics.median(entry.cpu_times if cpu else entry.times)

    head = "| backbone | implementation | params | GFLOP | wall median | wall min |"
    head += " CPU time median |" if cpu else ""
    head += " GFLOP/s | peak memory | time vs diffusers | note |"
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for entry in entries:
        ratio = f"{basis(entry) / basis(entry.reference):.2f}x" if entry.reference else "1.00x"
        row = (
            f"| {entry.backbone} | {entry.impl} | {entry.params / 1e6:.2f}M | {entry.gflop:.0f} "
            f"| {statistics.median(entry.times) * 1e3:.0f} ms | {min(entry.times) * 1e3:.0f} ms |"
        )
        if cpu:
            row += f" {statistics.median(entry.cpu_times) * 1e3:.0f} ms |"
        row += f" {entry.gflop / basis(entry):.1f} | {entry.peak_mb:.0f} MiB | {ratio} | {entry.note} |"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--full", action="store_true", help="the lab notes' sizes (for a GPU)")
    parser.add_argument("--batch", type=int, help="batch size (default 4 on CPU, 16 with --full)")
    parser.add_argument("--size", type=int, default=64, help="image height and width")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations per model")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default: 1 on CPU, see THREADS_NOTE; torch's own on CUDA)",
    )
    parser.add_argument("--only", nargs="+", choices=list(CPU_CONFIGS), help="a subset of the backbones")
    parser.add_argument("--out", type=Path, help="markdown file (default results/backbones[_cuda][_full].md)")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    args.threads = args.threads or (1 if device.type == "cpu" else torch.get_num_threads())
    torch.set_num_threads(args.threads)
    configs = FULL_CONFIGS if args.full else CPU_CONFIGS
    batch = args.batch or (16 if args.full else 4)
    names = args.only or list(CPU_CONFIGS)
    suffix = ("_cuda" if device.type == "cuda" else "") + ("_full" if args.full else "")
    out = args.out or RESULTS / f"backbones{suffix}.md"

    load_before = os.getloadavg()
    entries = build_entries(configs, names, args.size, 3, device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, args.size, args.size, generator=gen).to(device)  # (B, 3, S, S)
    t = torch.randint(0, 1000, (batch,), generator=gen).float().to(device)  # (B,)
    print(
        f"timing {len(entries)} models, batch {batch} at {args.size}x{args.size} on {device}", file=sys.stderr
    )
    measure(entries, x, t, args.warmup, args.repeats)
    load_after = os.getloadavg()

    lines = [
        f"# Backbones: forward + backward at {args.size}x{args.size}, batch {batch}"
        + (" (--full)" if args.full else ""),
        "",
        f"Command: `{command_line('backbones.py', argv)}`",
        "",
        *machine(device, args.threads),
        load_line(load_before, load_after),
        f"- {args.warmup} warm-up iteration(s) per model, then {args.repeats} interleaved timed rounds; "
        "wall median and min per iteration (zero grads, forward, mean square loss, backward)",
        "- GFLOP: forward + backward, counted by torch.utils.flop_counter (convolutions, matmuls, "
        "attention); "
        + (
            "GFLOP/s and 'time vs diffusers' use the median CPU time (process CPU seconds), not wall time",
            "GFLOP/s and 'time vs diffusers' use the wall median",
        )[device.type == "cuda"],
        *([f"- one torch thread by default: {THREADS_NOTE}"] if device.type == "cpu" else []),
        "- peak memory: tensor memory allocated during one iteration above what was held before it "
        + (
            "(torch.cuda.max_memory_allocated)"
            if device.type == "cuda"
            else "(PyTorch's CPU allocator as reported to torch.profiler with profile_memory=True; "
            "excludes oneDNN's own scratch memory and allocator caching; not RSS)"
        ),
        "",
        *table(entries, device),
        "",
        "Configurations (dvcore options as in a recipe's [model] section; diffusers keyword arguments):",
        "",
    ]
    for name in names:
        options, cls_name, kwargs = configs[name]
        lines.append(
            f"- `{name}`: `{json.dumps(options)}`; diffusers `{cls_name}`: "
            + (f"the {kwargs} row's" if isinstance(kwargs, str) else f"`{json.dumps(kwargs)}`")
        )
    lines += ["", "How the pairs differ:", ""]
    lines += [f"- `{name}`: {PAIR_NOTES[name]}" for name in names]
    write_report(out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
