"""Forward+backward time of the patch interpolator on CPU: B=8, N=5 (in_channels 12), 32x32.

Run: .venv/bin/python plugins/dvcore-interp/benchmarks/step_time.py [threads=N] [option=value ...]
(no options: the table of CONFIGS; with options: that one config).
"""

from __future__ import annotations

import sys
import time

import torch

from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator

CONFIGS = {
    "default (XS, pixel tokens)": {},
    "XS, token_patch 2": {"token_patch": 2},
    "XS, token_patch 2, conv head": {"token_patch": 2, "head": "conv"},
    "XS, quantized, token_patch 2": {"token_patch": 2, "tokens": "quantized"},
    "d96/depth3, token_patch 2": {"token_patch": 2, "d_model": 96, "depth": 3},
    "S, token_patch 2": {"size": "S", "token_patch": 2},
}


def parse(value: str) -> object:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def time_step(options: PatchInterpolatorOptions, batch: int = 8, size: int = 32, repeats: int = 5) -> float:
    torch.manual_seed(0)
    model = build_patch_interpolator(options, in_channels=12, out_channels=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y, t = torch.rand(batch, 12, size, size), torch.rand(batch, 3, size, size), torch.zeros(batch)
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        loss = torch.nn.functional.mse_loss(model(x, t), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


if __name__ == "__main__":
    args = {k: parse(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}
    torch.set_num_threads(int(args.pop("threads", torch.get_num_threads())))
    configs = {" ".join(f"{k}={v}" for k, v in args.items()): args} if args else CONFIGS
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for name, kwargs in configs.items():
        options = PatchInterpolatorOptions(**kwargs)
        params = sum(
            p.numel() for p in build_patch_interpolator(options, in_channels=12, out_channels=3).parameters()
        )
        print(f"{name:34s} params {params / 1e3:7.1f}k  fwd+bwd+step {time_step(options) * 1e3:7.1f} ms")
