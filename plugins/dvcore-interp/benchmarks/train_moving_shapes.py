"""Train the patch interpolator briefly on moving_shapes (32x32, N=5) and compare with the blend baseline.

Run: .venv/bin/python plugins/dvcore-interp/benchmarks/train_moving_shapes.py steps=400 batch=16 token_patch=2
...
Keys other than steps/batch/lr/threads/train_clips are PatchInterpolatorOptions fields.
"""

from __future__ import annotations

import math
import sys
import time

import torch

from dvcore.data.moving_shapes import MovingShapesOptions, build_moving_shapes
from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator


def parse(value: str) -> object:
    if value in ("true", "false"):
        return value == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def clips(split: str, count: int) -> torch.Tensor:
    data = build_moving_shapes(MovingShapesOptions(), split=split, seed=0)
    return torch.stack([data[i]["frames"] for i in range(count)])  # (n, 5, 3, 32, 32)


def split(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    context = torch.cat([frames[:, :2], frames[:, 3:]], 1)  # (B, 4, 3, H, W)
    return context.flatten(1, 2), frames[:, 2]  # (B, 12, H, W), (B, 3, H, W)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    mse = ((pred.clamp(0, 1) - target) ** 2).mean(dim=(1, 2, 3))  # (B,)
    return float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean())


def main(args: dict[str, object]) -> None:
    steps, batch, lr = int(args.pop("steps", 400)), int(args.pop("batch", 16)), float(args.pop("lr", 2e-3))
    torch.set_num_threads(int(args.pop("threads", 2)))
    train, evals = clips("train", int(args.pop("train_clips", 4000))), clips("eval", 200)
    options = PatchInterpolatorOptions(**{"residual": True, **args})
    torch.manual_seed(0)
    model = build_patch_interpolator(options, in_channels=12, out_channels=3)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(steps // 20, 1)

    def schedule(step: int) -> float:
        return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step / steps, 1.0)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(steps):
        x, y = split(train[torch.randint(0, len(train), (batch,), generator=gen)])
        loss = torch.nn.functional.mse_loss(model(x, torch.zeros(batch)), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.5f}  {time.perf_counter() - start:6.1f} s", flush=True)
    elapsed = time.perf_counter() - start
    model.eval()
    x, y = split(evals)
    with torch.no_grad():
        pred = torch.cat(
            [model(x[i : i + 50], torch.zeros(len(x[i : i + 50]))) for i in range(0, len(x), 50)]
        )
    blend = 0.5 * (x[:, 3:6] + x[:, 6:9])
    params = sum(p.numel() for p in model.parameters())
    print(f"options {args} steps {steps} batch {batch} lr {lr} params {params / 1e3:.1f}k")
    print(f"train {elapsed:.1f} s ({elapsed / steps * 1e3:.0f} ms/step)")
    print(
        f"eval PSNR: model {psnr(pred, y):.2f} dB  blend {psnr(blend, y):.2f} dB  copy "
        f"{psnr(x[:, 3:6], y):.2f} dB"
    )


if __name__ == "__main__":
    main({k: parse(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])})
