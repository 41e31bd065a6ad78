"""Samples/s of each file-backed dataset through the real loader, vs what a training step consumes.

    .venv/bin/python benchmarks/data_throughput.py [--batches 12] [--workers 0 2 4] [--write]

Generates, in a temp dir, data shaped like the real thing:

- vimeo_septuplet: 448x256 PNG septuplets (smooth texture + noise, shifted per frame), N=5,
  train split with crop 128, flips and time reversal (the recipe's setting), and eval at full size;
- frame_folders: 256x256 JPEG frames (quality 90), N=5, resize 128, crop 64;
- video_files: 256x256 H.264 .mp4 files, a keyframe every 30 frames, N=5, resize 128, crop 64;
- image_folder: 178x218 JPEGs (CelebA's size) -> 64x64 with hflip.

Each runs through ``dvcore.data.pipeline.build_loader`` (batch 16, prefetch 2) with 0, 2 and 4
decode threads. The consumption side: a forward + backward + AdamW step of two models at 64 px,
timed on this CPU, and their forward FLOPs per sample (``torch.utils.flop_counter``), from which
a GPU's appetite follows at an assumed achieved rate (``--gpu-tflops``, default 200 TFLOP/s in
bf16: about a fifth of an H100/H200's dense peak). ``--write`` writes the table to
benchmarks/results/data_throughput.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dvcore.data.frame_folders import FrameFoldersOptions, build_frame_folders
from dvcore.data.image_folder import ImageFolderOptions, build_image_folder
from dvcore.data.pipeline import build_loader
from dvcore.data.video_files import VideoFilesOptions, build_video_files
from dvcore.data.vimeo import VimeoSeptupletOptions, build_vimeo_septuplet

RESULTS = Path(__file__).parent / "results" / "data_throughput.md"

# ----------------------------------------------------------------------------------------------
# Generated data
# ----------------------------------------------------------------------------------------------


def texture(height: int, width: int, rng: np.random.Generator, pad: int = 32) -> np.ndarray:
    """A smooth random colour field with noise, (H + pad, W + pad, 3) uint8: compresses like a photo."""
    h, w = height + pad, width + pad
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w, 3), np.float32)
    for _ in range(6):
        k = rng.uniform(0.01, 0.15, 2)
        phase = rng.uniform(0, 2 * np.pi)
        field += rng.uniform(-40, 40, 3) * np.sin(k[0] * x + k[1] * y + phase)[..., None]
    field += 128 + rng.normal(0, 4, (h, w, 3))
    return field.clip(0, 255).astype(np.uint8)


def make_vimeo(root: Path, clips: int, rng: np.random.Generator) -> None:
    names = [f"{1 + i // 8:05d}/{1 + i % 8:04d}" for i in range(clips)]
    for name in names:
        base = texture(256, 448, rng)
        for k in range(1, 8):
            frame = base[2 * k : 2 * k + 256, 3 * k : 3 * k + 448]  # a pan of (3, 2) px/frame
            path = root / "sequences" / name / f"im{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(frame)).save(path)
    (root / "sep_trainlist.txt").write_text("\n".join(names))
    (root / "sep_testlist.txt").write_text("\n".join(names))


def make_frame_folders(root: Path, folders: int, frames: int, rng: np.random.Generator) -> None:
    for f in range(folders):
        base = texture(256, 256, rng, pad=2 * frames)
        for k in range(frames):
            path = root / f"clip{f:03d}" / f"{k:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(base[k : k + 256, 2 * k : 2 * k + 256])).save(
                path, quality=90
            )


def make_videos(root: Path, files: int, frames: int, rng: np.random.Generator) -> None:
    import av

    root.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        base = texture(256, 256, rng, pad=2 * frames)
        with av.open(str(root / f"video{f:02d}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.height, stream.width, stream.pix_fmt = 256, 256, "yuv420p"
            stream.codec_context.gop_size = 30
            stream.options = {"crf": "20", "preset": "veryfast"}
            for k in range(frames):
                frame = np.ascontiguousarray(base[k : k + 256, 2 * k : 2 * k + 256])
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def make_images(root: Path, count: int, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(texture(218, 178, rng, pad=0)).save(root / f"{i:06d}.jpg", quality=95)


# ----------------------------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------------------------


def cpu_ms_per_sample(dataset, count: int = 48) -> float:
    """Process CPU time per sample read in this thread: what one decode thread costs, load or not."""
    dataset[0]
    start = time.process_time()
    for i in range(1, count + 1):
        dataset[i * 7 % len(dataset)]
    return (time.process_time() - start) / count * 1e3


def samples_per_second(dataset, workers: int, batches: int, batch_size: int = 16) -> float:
    """Wall samples/s through the loader after one warm-up batch (the pipeline's threads started)."""
    loader = build_loader(
        dataset, batch_size=batch_size, seed=0, shuffle=True, drop_last=True, num_workers=workers, prefetch=2
    )

    def forever():
        while True:
            yield from loader  # the next epoch when one ends

    it = forever()
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches * batch_size / (time.perf_counter() - start)
    it.close()  # stop the decode threads here, on this thread, before the next measurement
    del it
    gc.collect()
    return rate


def step_consumption(
    model: torch.nn.Module, c_in: int, size: int, batch: int, time_it: bool
) -> tuple[float, float]:
    """(samples/s of fwd + bwd + AdamW on this CPU, or nan; forward GFLOPs per sample)."""
    from torch.utils.flop_counter import FlopCounterMode

    x, t = torch.rand(batch, c_in, size, size), torch.zeros(batch)
    with FlopCounterMode(display=False) as counter:
        model(x[:1], t[:1])
    if not time_it:
        return float("nan"), counter.get_total_flops() / 1e9
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for i in range(3):
        start = time.perf_counter()
        loss = model(x, t).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    return batch / float(np.median(times)), counter.get_total_flops() / 1e9


def models() -> dict[str, tuple[torch.nn.Module, int, bool]]:
    """The consumers: backbones of the installed plugins, their input channels, whether to time them here."""
    found: dict[str, tuple[torch.nn.Module, int, bool]] = {}
    try:
        from dvcore_unet.options import UNetOptions
        from dvcore_unet.plugin import build_unet

        options = UNetOptions(base_channels=64, channel_mult=[1, 2, 4, 8], attention_factors=[8])
        model = build_unet(options, in_channels=3, out_channels=3)
        found["unet base 64, mult 1-2-4-8 (generate, 3->3)"] = (model, 3, True)
    except ImportError:
        pass
    try:
        from dvcore_interp import PatchInterpolatorOptions, build_patch_interpolator

        options = PatchInterpolatorOptions(size="L", token_patch=2, residual=True)
        model = build_patch_interpolator(options, in_channels=12, out_channels=3)
        found["patch_interpolator L, token_patch 2 (interp N=5, 12->3)"] = (model, 12, False)  # too slow here
    except ImportError:
        pass
    return found


def consumers_of(dataset: str, consumers: list) -> tuple[str, float] | None:
    """The model a dataset feeds (clips: the interpolator; images: the unet) and its GPU samples/s."""
    want = "unet" if dataset.startswith("image_folder") else "patch_interpolator"
    return next(((n, r) for n, _, _, r in consumers if n.startswith(want)), None)


def threads_needed(cpu_ms: float, feeds: tuple[str, float] | None) -> str:
    if feeds is None:
        return "-"
    name, rate = feeds
    return f"{rate * cpu_ms / 1e3:.1f} for {name.split(' (')[0]} at {rate:.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    parser.add_argument("--gpu-tflops", type=float, default=200.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="dvcore-bench-"))
    try:
        t0 = time.perf_counter()
        make_vimeo(tmp / "vimeo", 48, rng)
        make_frame_folders(tmp / "frames", 6, 40, rng)
        make_images(tmp / "images", 400, rng)
        has_av = True
        try:
            make_videos(tmp / "videos", 3, 150, rng)
        except ImportError:
            has_av = False
        print(f"generated data in {time.perf_counter() - t0:.0f} s")
        consumers = []
        for name, (model, c_in, time_it) in models().items():
            cpu_rate, gflops = step_consumption(model, c_in, 64, batch=4, time_it=time_it)
            gpu_rate = args.gpu_tflops * 1e3 / (3 * gflops)  # fwd + bwd ~ 3x the forward
            consumers.append((name, cpu_rate, gflops, gpu_rate))
            print(
                name,
                f"{cpu_rate:.1f} samples/s CPU, {gflops:.2f} GFLOP fwd, ~{gpu_rate:.0f}/s GPU",
                flush=True,
            )
        datasets = {
            "vimeo_septuplet train (448x256 PNG, N=5, crop 128, flips, reverse)": build_vimeo_septuplet(
                VimeoSeptupletOptions(
                    root=str(tmp / "vimeo"), crop=[128, 128], hflip=True, vflip=True, time_reverse=True
                ),
                split="train",
                seed=0,
            ),
            "vimeo_septuplet eval (448x256 PNG, N=5, full frame)": build_vimeo_septuplet(
                VimeoSeptupletOptions(root=str(tmp / "vimeo")), split="eval", seed=0
            ),
            "frame_folders (256x256 JPEG, N=5, resize 128, crop 64)": build_frame_folders(
                FrameFoldersOptions(root=str(tmp / "frames"), resize=[128, 128], crop=[64, 64], hflip=True),
                split="train",
                seed=0,
            ),
            "image_folder (178x218 JPEG -> 64, hflip)": build_image_folder(
                ImageFolderOptions(root=str(tmp / "images"), size=64, hflip=True), split="train", seed=0
            ),
        }
        if has_av:
            datasets["video_files (256x256 H.264, GOP 30, N=5, resize 128, crop 64)"] = build_video_files(
                VideoFilesOptions(root=str(tmp / "videos"), resize=[128, 128], crop=[64, 64], hflip=True),
                split="train",
                seed=0,
            )
        rows: list = []
        cpu_ms_of = {name: cpu_ms_per_sample(dataset) for name, dataset in datasets.items()}  # no threads yet
        for name, dataset in datasets.items():
            cpu_ms = cpu_ms_of[name]
            rates = [samples_per_second(dataset, w, args.batches) for w in args.workers]
            feeds = consumers_of(name, consumers)
            rows.append((name, cpu_ms, rates, feeds))
            print(name, f"{cpu_ms:.1f} ms CPU/sample", " ".join(f"{r:7.1f}" for r in rates), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    header = (
        f"CPU: {os.cpu_count()} cores (shared with other jobs; load {os.getloadavg()[0]:.1f} at the end), "
        f"torch {torch.__version__}, batch 16, prefetch 2, {args.batches} batches after one warm-up.\n"
    )
    lines = [
        "# Data throughput",
        "",
        "`benchmarks/data_throughput.py`: samples (clips or images) per second through `build_loader` on",
        "generated data, by decode threads (`train.num_workers`), against what a training step consumes.",
        "",
        header,
        "CPU ms / sample is the process CPU time of one sample read in one thread (robust to a busy",
        "machine); 1000 / it is what one decode thread delivers on an idle core. The wall columns are",
        "samples/s through the loader with 0, 2, 4 threads on this machine.",
        "",
        "| dataset | CPU ms / sample | one core: samples/s | "
        + " | ".join(f"{w} threads (wall)" for w in args.workers)
        + " | decode threads to feed the GPU estimate below |",
        "|---|---:|---:|" + "---:|" * len(args.workers) + "---|",
        *(
            f"| {n} | {ms:.1f} | {1e3 / ms:.0f} | "
            + " | ".join(f"{r:.0f}" for r in rates)
            + f" | {threads_needed(ms, feeds)} |"
            for n, ms, rates, feeds in rows
        ),
        "",
        f"Consumption of a training step at 64x64 (fwd + bwd + AdamW); CPU timed here at batch 4; GPU = "
        f"forward FLOPs x 3 at {args.gpu_tflops:.0f} TFLOP/s achieved (an estimate, not a measurement):",
        "",
        "| model | CPU samples/s (here) | forward GFLOP / sample | GPU samples/s (estimate) |",
        "|---|---:|---:|---:|",
        *(f"| {n} | {'-' if c != c else f'{c:.1f}'} | {g:.2f} | {r:.0f} |" for n, c, g, r in consumers),
    ]
    timed = [(n.split(" (")[0], rate) for n, rate, _, _ in consumers if rate == rate]  # not nan
    slowest = min(rows, key=lambda row: max(row[2]))
    needs = [ms * feeds[1] / 1e3 for _, ms, _, feeds in rows if feeds is not None]
    lines += ["", "Reading:", ""]
    if timed:
        lines.append(
            f"- On this CPU the loader is not the bottleneck: the slowest dataset here "
            f"({slowest[0].split(' (')[0]}, {max(slowest[2]):.0f} samples/s at its best thread count) "
            "outpaces the training step timed here ("
            + ", ".join(f"{name}: {rate:.1f} samples/s" for name, rate in timed)
            + ")."
        )
    if needs:
        lines.append(
            f"- On a GPU the last column is what matters: at most {max(needs):.1f} decode threads for the "
            "estimates above, which a 16-core GPU host has to spare (train.num_workers); the wall columns "
            "here are capped by 2 shared cores, not by the code."
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
