"""Time one forward + backward of DiT presets on the CPU.

    python plugins/dvcore-dit/benchmarks/cpu_step.py [--threads 2] [--size 64] [--batch 4]

Prints, per variant: parameters, tokens, and the median seconds of forward+backward
(t drawn in [0, 1000), loss = mean square of the output) with and without gradient checkpointing,
as wall time and as this process's CPU time (the latter is what a busy shared machine distorts least).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from dvcore_dit.options import DitOptions
from dvcore_dit.plugin import build_dit


def time_step(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds) of one forward + backward."""
    t = torch.rand(x.shape[0]) * 1000
    wall, cpu = [], []
    for i in range(repeats + 1):  # the first call is warm-up
        start, start_cpu = time.perf_counter(), time.process_time()
        model(x, t).square().mean().backward()
        model.zero_grad(set_to_none=True)
        if i:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["S/4", "B/4"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.channels, args.size, args.size)
    print(
        f"torch {torch.__version__}, {args.threads} threads, load {os.getloadavg()[0]:.1f}, input "
        f"{tuple(x.shape)}"
    )
    for variant in args.variants:
        size, patch = variant.split("/")
        model = build_dit(DitOptions(size=size, patch=int(patch)), in_channels=args.channels, out_channels=3)
        # Leave adaLN-Zero's zeros: they do not change the work done, only the values.
        model.train()
        params = sum(p.numel() for p in model.parameters())
        tokens = (args.size // int(patch)) ** 2
        plain, plain_cpu = time_step(model, x, args.repeats)
        model.grad_checkpointing = True
        ckpt, ckpt_cpu = time_step(model, x, args.repeats)
        print(
            f"DiT-{variant}: {params / 1e6:.1f}M params, {tokens} tokens: fwd+bwd {plain:.3f} s wall "
            f"({plain_cpu:.3f} s CPU); with grad checkpointing {ckpt:.3f} s wall ({ckpt_cpu:.3f} s CPU, "
            f"{ckpt_cpu / plain_cpu - 1:+.0%})"
        )


if __name__ == "__main__":
    main()
