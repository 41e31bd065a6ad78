"""`dvcore movie`: the denoising trajectory of a trained run as GIF/MP4 and in its tracker."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from dvcore.commands.common import (
    ema_option,
    eta_option,
    load_run,
    registry,
    require_capability,
    run_dir_argument,
    sampler_option,
    sampler_override,
    seed_option,
    steps_option,
    track_option,
)
from dvcore.tasks.capabilities import MakesMovieFrames


@click.command()
@run_dir_argument
@click.option("--num", type=click.IntRange(min=1), default=16, show_default=True, help="Samples in the grid.")
@sampler_option
@steps_option
@eta_option
@ema_option
@seed_option
@click.option("--fps", type=float, default=8, show_default=True)
@click.option("--scale", type=click.IntRange(min=1), default=2, show_default=True, help="Pixel upscaling.")
@click.option("--out", type=click.Path(path_type=Path), multiple=True, help="movie.gif and/or movie.mp4.")
@track_option
def movie(
    run_dir: Path,
    num: int,
    sampler: str | None,
    steps: int | None,
    eta: float | None,
    ema: bool | None,
    seed: int,
    fps: float,
    scale: int,
    out: tuple[Path, ...],
    track: bool,
) -> None:
    """Render the denoising trajectory (x_t | predicted x0, every step) to GIF/MP4 and the tracker.

    Interpolation runs: eval clips as context frames | x_t | predicted | target per step (diffusion),
    or the clips played back with the predicted middle frame beside the true one (regression).
    """
    from dvcore.movie import frames_as_images, write_gif, write_mp4
    from dvcore.track.run_tracker import log_images_to_run

    run = load_run(run_dir, ema, "cpu")
    chosen = sampler_override(sampler, eta, run)
    require_capability(run, MakesMovieFrames, "movie")
    task = cast(MakesMovieFrames, run.task)
    frames = task.movie_frames(run.model, num=num, sampler=chosen, num_steps=steps, seed=seed, scale=scale)
    for path in list(out) or [run_dir / "movie.gif"]:
        if path.suffix.lower() == ".mp4":
            write_mp4(frames, path, fps)
        else:
            write_gif(frames, path, fps)
        click.echo(f"{path}: {len(frames)} frames")
    if track:
        where = [("movie", k) for k in range(len(frames))]
        log_images_to_run(run, frames_as_images(frames), where, registry())
