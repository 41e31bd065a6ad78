"""`dvcore sample`: write generated images from a trained run, one PNG per index."""

from __future__ import annotations

from pathlib import Path

import click

from dvcore.commands.common import (
    batch_size_option,
    ema_option,
    eta_option,
    load_run,
    require_capability,
    run_dir_argument,
    sampler_option,
    sampler_override,
    steps_option,
)
from dvcore.tasks.capabilities import SamplesImages


@click.command()
@run_dir_argument
@click.option(
    "--num",
    "-n",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Images to write (under torchrun use -n: torchrun itself claims --num as an abbreviation).",
)
@batch_size_option(64)
@sampler_option
@steps_option
@eta_option
@ema_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for 000000.png ...")
@click.option("--seed", type=int, default=0, show_default=True, help="Image i depends on (seed, i) only.")
@click.option("--npz", is_flag=True, help="Also write all images as one samples.npz (uint8 N,H,W,C).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def sample(
    run_dir: Path,
    num: int,
    batch_size: int,
    sampler: str | None,
    steps: int | None,
    eta: float | None,
    ema: bool | None,
    out: Path,
    seed: int,
    npz: bool,
    device: str,
) -> None:
    """Write NUM generated images from a trained run: deterministic per index, resumable, data-parallel."""
    from dvcore.run import resolve_device
    from dvcore.sampling import sample_to_folder, write_npz
    from dvcore.train import distributed

    dev = resolve_device(device)
    dist_info = distributed.init(dev)
    dev = distributed.device_for(dist_info, dev)
    run = load_run(run_dir, ema, str(dev))
    require_capability(run, SamplesImages, "sample")
    chosen = sampler_override(sampler, eta, run)
    stats = sample_to_folder(
        run.task,
        run.model,
        out,
        num=num,
        batch_size=batch_size,
        seed=seed,
        dist=dist_info,
        sampler=chosen,
        num_steps=steps,
    )
    distributed.barrier(dist_info)
    if dist_info.is_main:
        if npz:
            write_npz(out, num, out / "samples.npz")
        click.echo(
            f"{out}: {num} images ({stats['written']} written now by rank 0, "
            f"{stats['images_per_s']:.1f} images/s), {run.weights} weights of step {run.step}"
        )
    distributed.shutdown(dist_info)
