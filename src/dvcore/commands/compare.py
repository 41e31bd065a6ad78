"""`dvcore compare`: finished runs (or sweeps) as one table of what differs vs the final metrics."""

from __future__ import annotations

from pathlib import Path

import click

from dvcore.commands.common import fail, registry


@click.command("compare")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--metric", "metrics", multiple=True, help="Columns: psnr = model/psnr, or blend/psnr ...")
@click.option("--out", type=click.Path(path_type=Path), help="Folder for compare.md/.csv/.json/.png.")
@click.option("--track/--no-track", default=True, help="Also log the table (and plot) to the runs' tracker.")
def compare(paths: tuple[Path, ...], metrics: tuple[str, ...], out: Path | None, track: bool) -> None:
    """Compare RUN_OR_SWEEP_DIR...: the recipe keys that differ vs the final metrics, mean ± std over seeds.

    The best value of each metric is in bold. Writes compare.md, compare.csv and compare.json
    (and compare.png, a metric against a numeric varied key, when there is one) into the sweep
    directory (one sweep given) or OUT.
    """
    from dvcore import compare as comparing
    from dvcore.sampling import save_png

    table = comparing.compare(list(paths), list(metrics) or None, registry())
    for line in table.skipped:
        click.echo(f"dvcore: skipped {line}", err=True)
    if not table.rows:
        fail(["no finished runs to compare (a run is finished when it has summary.json)"], "the arguments")
    runs = [r.run_dir for row in table.rows for r in row.runs]
    out = out or comparing.default_out(list(paths), runs)
    written = comparing.write(table, out)
    markdown = comparing.markdown(table)
    click.echo(markdown)
    image = None
    key = comparing.numeric_key(table)
    if key is not None and table.metrics:
        image = comparing.plot(table, key, table.metrics[0])
        save_png(image, out / "compare.png")
        written.append(out / "compare.png")
    if track:
        sweeps = comparing.sweep_names(list(paths))
        comparing.track(table, markdown, image, out, runs[0], registry(), sweeps)
    click.echo(", ".join(str(p) for p in written))
