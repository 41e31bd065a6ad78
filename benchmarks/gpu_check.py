"""One prepared GPU check (at most ~8 minutes on a CUDA machine): the GPU recipes and vs_diffusers.

    .venv/bin/python benchmarks/gpu_check.py                       # CUDA: writes benchmarks/results/gpu.md
    .venv/bin/python benchmarks/gpu_check.py --device cpu --out /tmp/gpu_check.md   # tiny sizes, for its test

For ``recipes/interp_n5_gpu.toml`` and ``recipes/faces_unet_64.toml``, in fp32, bf16 and
bf16 + torch.compile: dvcore's Trainer, built from the recipe as ``dvcore run`` builds it,
trains ``--warmup`` steps (compilation happens there; its time is reported) and then
``--steps`` timed steps; reported: images/s (samples per second through the whole step: loader,
forward, backward, optimizer, EMA) and peak CUDA memory. Evaluation and checkpoints are off
(not part of a step). faces_unet_64 needs a face folder; without ``--faces DIR`` it trains on
64x64 crops of scikit-image's sample photos written to a temporary folder (the same decode and
resize path). Then ``benchmarks/vs_diffusers.py --size gpu`` (diffusers' example UNet at 64x64)
runs on the same device.

Every variant is guarded by ``--budget`` seconds (50: a variant that runs out stops and says
so) and the six variants by ``--total`` seconds (330: the variants left are skipped and listed
as such); vs_diffusers at the GPU size takes about a minute more on a current GPU, so the check
stays inside 8 minutes. ``--device cpu`` swaps in tiny models and sizes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from bench import command_line, header, load_line, machine, row, write_report  # sibling modules

from dvcore import recipe as recipes
from dvcore.plugins import registry as default_registry
from dvcore.run import build_components, count_parameters, seed_everything
from dvcore.tasks.base import EvalResult
from dvcore.track.base import Tracker
from dvcore.train.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RECIPES = {
    "interp_n5_gpu": ROOT / "recipes/interp_n5_gpu.toml",
    "faces_unet_64": ROOT / "recipes/faces_unet_64.toml",
}
VARIANTS = {
    "fp32": ['train.precision="fp32"'],
    "bf16": ['train.precision="bf16"'],
    "bf16+compile": ['train.precision="bf16"', "train.compile=true"],
}
COMMON = ['tracker.name="none"', "train.eval_every=0", "train.checkpoint_every=0", "train.log_every=1000000"]
TINY = {  # --device cpu: the recipes' structure at toy sizes
    "interp_n5_gpu": ["data.size=16", "data.num_train=64", "data.num_eval=8", 'model.size="XS"',
                      "train.batch_size=2", "train.num_workers=0"],
    "faces_unet_64": ["data.size=16", "model.base_channels=8", "model.channel_mult=[1, 2]",
                      "model.attention_factors=[]", "model.num_res_blocks=1", "model.norm_groups=4",
                      "train.batch_size=2", "train.num_workers=0"],
}  # fmt: skip
COLUMNS = ("recipe", "variant", "parameters", "batch", "steps timed", "images/s", "peak memory",
           "warm-up (compile)")  # fmt: skip


def sample_photos(folder: Path, count: int = 256, size: int = 64) -> Path:
    """``count`` random size x size crops of scikit-image's sample photos, as PNG files in ``folder``."""
    import numpy as np
    from PIL import Image
    from skimage import data

    photos = [
        getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
    ]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - 2 * size), rng.integers(0, photo.shape[1] - 2 * size)
        crop = photo[y : y + 2 * size, x : x + 2 * size]
        Image.fromarray(crop).resize((size, size)).save(folder / f"{i:04d}.png")
    return folder


def run_variant(
    recipe_path: Path, overrides: list[str], device: torch.device, warmup: int, steps: int, budget: float
) -> dict[str, Any]:
    registry = default_registry()
    recipe = recipes.load(recipe_path, overrides, registry)
    seed_everything(recipe.seed)
    comps = build_components(recipe, registry)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            recipe,
            comps.task,
            comps.model,
            run_dir=Path(tmp),
            tracker=Tracker(),
            device=device,
            progress=False,
        )
        trainer.evaluate = lambda: EvalResult({})  # not part of a step
        trainer.save_checkpoint = lambda: Path(tmp)
        started = time.perf_counter()
        trainer.max_steps = warmup
        trainer.fit()
        sync(device)
        warm = time.perf_counter() - started
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        done, t0 = 0, time.perf_counter()
        while done < steps and time.perf_counter() - started < budget:
            n = min(10, steps - done)
            trainer.max_steps = trainer.step + n
            trainer.fit()
            done += n
        sync(device)
        elapsed = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    samples = recipe.train.batch_size * recipe.train.grad_accum
    return {
        "parameters": count_parameters(comps.model),
        "batch": samples,
        "steps": done,
        "images_per_s": samples * done / elapsed if done else float("nan"),
        "peak_gib": peak,
        "warmup_s": warm,
        "cut": done < steps,
    }


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--budget", type=float, default=50.0, help="seconds per variant, warm-up included")
    parser.add_argument(
        "--total", type=float, default=330.0, help="seconds for all recipe variants (the rest are skipped)"
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--faces", type=Path, help="a folder of face images for faces_unet_64")
    parser.add_argument("--no-vs-diffusers", dest="vs_diffusers", action="store_false")
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu.md")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --device cpu for the tiny dry run", file=sys.stderr)
        return 2
    if device.type == "cpu":
        torch.set_num_threads(1)
    load_before = os.getloadavg()
    lines = header(*COLUMNS)
    deadline = time.perf_counter() + args.total
    with tempfile.TemporaryDirectory() as tmp:
        faces = args.faces or sample_photos(Path(tmp) / "faces", size=16 if device.type == "cpu" else 64)
        for name in args.recipes:
            extra = [f'device="{device.type}"', *COMMON]
            if name == "faces_unet_64":
                extra.append(f'data.root="{faces}"')
            if device.type == "cpu":
                extra += TINY[name]
            for variant in args.variants:
                if time.perf_counter() > deadline:
                    lines.append(
                        row(name, variant, f"skipped: --total {args.total:.0f} s reached", *[""] * 5)
                    )
                    continue
                try:
                    r = run_variant(
                        RECIPES[name], extra + VARIANTS[variant], device, args.warmup, args.steps, args.budget
                    )
                except Exception as exc:  # one failing variant must not cost the others
                    traceback.print_exc()
                    reason = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                    lines.append(row(name, variant, reason, *[""] * 5))
                    continue
                cut = " (budget reached)" if r["cut"] else ""
                lines.append(
                    row(name, variant, f"{r['parameters'] / 1e6:.1f}M", r["batch"], f"{r['steps']}{cut}",
                        f"{r['images_per_s']:.1f}", f"{r['peak_gib']:.2f} GiB", f"{r['warmup_s']:.0f} s")
                )  # fmt: skip
                print(lines[-1], flush=True)

    vs_note = "not run (--no-vs-diffusers)"
    if args.vs_diffusers:
        import vs_diffusers

        out = args.out.with_name(args.out.stem + "_vs_diffusers.md")
        if device.type == "cuda":
            vs_args = ["--device", "cuda", "--size", "gpu", "--batch", "16", "--steps", "10", "--rounds", "5",
                       "--sample-batch", "16", "--out", str(out)]  # fmt: skip
        else:
            vs_args = ["--size", "tiny", "--batch", "2", "--steps", "1", "--rounds", "2", "--warmup", "1",
                       "--precisions", "fp32", "--sample-batch", "2", "--sample-steps", "3",
                       "--sample-rounds", "1", "--no-levers", "--out", str(out)]  # fmt: skip
        vs_diffusers.main(vs_args)
        vs_note = f"[{out.name}]({out.name})"

    head = [
        "# GPU check: the GPU recipes in fp32 / bf16 / compile, and dvcore vs diffusers",
        "",
        f"Command: `{command_line('gpu_check.py', argv)}`",
        "",
        *machine(device, torch.get_num_threads()),
        load_line(load_before, os.getloadavg()),
        f"- {args.warmup} warm-up steps (compilation included), then up to {args.steps} timed steps per "
        f"variant, each variant limited to {args.budget:.0f} s and the recipes to {args.total:.0f} s in all; "
        "evaluation and checkpoints off",
        "- faces_unet_64 data: "
        + (str(args.faces) if args.faces else "64x64 crops of scikit-image's sample photos"),
        f"- dvcore vs diffusers on this device: {vs_note}",
        "",
    ]
    write_report(args.out, "\n".join(head + lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
