"""Comparing finished runs: the recipe keys that differ against the final metrics.

Runs come from run directories or sweep directories. Runs whose resolved recipes differ
only in ``seed`` are one row: each metric's mean ± standard deviation over the seeds
(sample std, ddof 1; none with a single seed). The best mean per metric column is marked,
using the metric's own ``higher_is_better`` where the registry knows it.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from dvcore.sweep import SWEEP_FILE, flatten

# Keys that never explain a difference between runs (seed is the grouping, not a column).
IGNORED = {"run_name", "seed", "tags", "description", "runs_root"}
LOWER_IS_BETTER = ("loss", "fid", "kid", "mae", "mse", "lpips", "error")


@attrs.frozen
class RunRecord:
    run_dir: Path
    recipe: dict[str, Any]  # flattened resolved recipe: dotted key -> value
    scores: dict[str, float]  # summary.json's "eval"
    seconds: float | None


@attrs.frozen
class Row:
    values: dict[str, Any]  # varied key -> value
    runs: list[RunRecord]
    means: dict[str, float]
    stds: dict[str, float | None]


@attrs.frozen
class Comparison:
    keys: list[str]  # the varied recipe keys, as columns
    metrics: list[str]  # "predictor/metric" columns
    rows: list[Row]
    best: dict[str, int]  # metric -> index of the best row
    skipped: list[str]  # lines about directories that held no finished run


# ----------------------------------------------------------------------------------------------
# Finding runs
# ----------------------------------------------------------------------------------------------


def find_runs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Finished run directories under ``paths`` (runs, sweeps, or folders of runs), and what was skipped."""
    from dvcore.run import RECIPE_FILE, SUMMARY_FILE

    found: list[Path] = []
    skipped: list[str] = []
    for path in paths:
        if (path / RECIPE_FILE).exists():
            candidates = [path]
        elif (path / SWEEP_FILE).exists():
            record = json.loads((path / SWEEP_FILE).read_text())
            candidates = [Path(p["run_dir"]) for p in record["points"]]
        elif path.is_dir():
            candidates = sorted(p.parent for p in path.rglob(RECIPE_FILE))
        else:
            skipped.append(f"{path}: no such directory")
            continue
        for run in candidates:
            if (run / SUMMARY_FILE).exists():
                if run not in found:
                    found.append(run)
            else:
                skipped.append(f"{run}: not finished (no {SUMMARY_FILE})")
        if not candidates:
            skipped.append(f"{path}: no runs")
    return found, skipped


def load_record(run_dir: Path) -> RunRecord:
    import tomllib

    from dvcore.run import RECIPE_FILE, SUMMARY_FILE

    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    recipe = flatten(tomllib.loads((run_dir / RECIPE_FILE).read_text()))
    return RunRecord(run_dir, recipe, dict(summary.get("eval", {})), summary.get("train_seconds"))


# ----------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------


def varied_keys(records: list[RunRecord]) -> list[str]:
    """Recipe keys whose values are not the same in every run (in recipe order)."""
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r.recipe))
    missing = object()
    return [
        k
        for k in keys
        if k not in IGNORED and len({json.dumps(r.recipe.get(k, missing), default=str) for r in records}) > 1
    ]


def default_metrics(records: list[RunRecord]) -> list[str]:
    """Every ``model/...`` score that is a final scalar (not a per-t bucket, not a spread)."""
    import re

    names: dict[str, None] = {}
    for r in records:
        for k in r.scores:
            if k.startswith("model/") and not k.endswith("_std") and not re.search(r"_t\d+-\d+$", k):
                names[k] = None
    return list(names)


def higher_is_better(metric: str, registry: Any | None = None) -> bool:
    name = metric.split("/", 1)[-1]
    if registry is not None and ("metric", name) in registry:
        flag = getattr(registry.get("metric", name).factory, "higher_is_better", None)
        if isinstance(flag, bool):
            return flag
    return not any(word in name.lower() for word in LOWER_IS_BETTER)


def compare(paths: list[Path], metrics: list[str] | None = None, registry: Any | None = None) -> Comparison:
    runs, skipped = find_runs(paths)
    records = [load_record(r) for r in runs]
    keys = varied_keys(records)
    columns = [m if "/" in m else f"model/{m}" for m in metrics] if metrics else default_metrics(records)
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(json.dumps([r.recipe.get(k) for k in keys], default=str), []).append(r)
    rows = []
    for members in groups.values():
        means: dict[str, float] = {}
        stds: dict[str, float | None] = {}
        for m in [*columns, "train_seconds"]:
            values = [r.seconds if m == "train_seconds" else r.scores.get(m) for r in members]
            finite = [float(v) for v in values if v is not None]
            means[m] = statistics.fmean(finite) if finite else math.nan
            stds[m] = statistics.stdev(finite) if len(finite) > 1 else None
        rows.append(Row({k: members[0].recipe.get(k) for k in keys}, members, means, stds))
    best = {}
    for m in columns:
        scored = [(i, row.means[m]) for i, row in enumerate(rows) if not math.isnan(row.means[m])]
        if len(scored) > 1:
            pick = max if higher_is_better(m, registry) else min
            best[m] = pick(scored, key=lambda iv: iv[1])[0]
    return Comparison(keys, columns, rows, best, skipped)


# ----------------------------------------------------------------------------------------------
# Output: markdown, CSV, JSON, a plot
# ----------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _number(mean: float, std: float | None, digits: int = 4) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def headers(table: Comparison) -> list[str]:
    short = {k: k for k in table.keys}
    return [*short.values(), "seeds", *table.metrics, "train s"]


def markdown(table: Comparison) -> str:
    """A GitHub markdown table; the best value of each metric in bold."""
    lines = ["| " + " | ".join(headers(table)) + " |", "|" + "---|" * len(headers(table))]
    for i, row in enumerate(table.rows):
        seeds = sorted({r.recipe.get("seed", 0) for r in row.runs})
        cells = [_cell(row.values[k]) for k in table.keys] + [",".join(str(s) for s in seeds)]
        for m in table.metrics:
            text = _number(row.means[m], row.stds[m])
            cells.append(f"**{text}**" if table.best.get(m) == i else text)
        cells.append(_number(row.means["train_seconds"], None, 0))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def records(table: Comparison) -> list[dict[str, Any]]:
    """One JSON-able dict per row: the varied values, seeds, runs, and per metric mean/std/best."""
    out = []
    for i, row in enumerate(table.rows):
        item: dict[str, Any] = dict(row.values)
        item["seeds"] = sorted({r.recipe.get("seed", 0) for r in row.runs})
        item["runs"] = [str(r.run_dir) for r in row.runs]
        for m in [*table.metrics, "train_seconds"]:
            item[m] = None if math.isnan(row.means[m]) else row.means[m]
            item[f"{m}_std"] = row.stds[m]
        item["best"] = [m for m in table.metrics if table.best.get(m) == i]
        out.append(item)
    return out


def write(table: Comparison, out: Path) -> list[Path]:
    """compare.md, compare.csv and compare.json in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = records(table)
    (out / "compare.md").write_text(markdown(table))
    (out / "compare.json").write_text(json.dumps({"keys": table.keys, "rows": rows}, indent=2, default=str))
    with open(out / "compare.csv", "w", newline="") as f:
        writer = csv.writer(f)
        flat = [k for k in rows[0] if k not in ("runs", "best")] if rows else []
        writer.writerow([*flat, "best"])
        for r in rows:
            writer.writerow(
                [";".join(map(str, r[k])) if isinstance(r[k], list) else r[k] for k in flat]
                + [";".join(r["best"])]
            )
    return [out / "compare.md", out / "compare.csv", out / "compare.json"]


def numeric_key(table: Comparison) -> str | None:
    """The first varied key whose values are all numbers (not booleans) and that takes two values or
    more at some setting of the other keys (so the plot has a line, not only lone points)."""
    for k in table.keys:
        values = [row.values[k] for row in table.rows]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            continue
        lines: dict[str, set[Any]] = {}
        for row in table.rows:
            others = repr([row.values[o] for o in table.keys if o != k])
            lines.setdefault(others, set()).add(row.values[k])
        if any(len(xs) > 1 for xs in lines.values()):
            return k
    return None


def plot(table: Comparison, key: str, metric: str) -> Any:
    """``metric`` (mean ± std over seeds) against the numeric ``key``, one line per setting of the other keys.

    Returns a (3, H, W) float tensor in [0, 1].
    """
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    others = [k for k in table.keys if k != key]
    lines: dict[str, list[Row]] = {}
    for row in table.rows:
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={_cell(row.values[k])}" for k in others) or metric
        lines.setdefault(label, []).append(row)
    for label, rows in lines.items():
        rows = sorted(rows, key=lambda r: r.values[key])
        xs = [r.values[key] for r in rows]
        ys = [r.means[metric] for r in rows]
        errs = [r.stds[metric] or 0.0 for r in rows]
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label)
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize=7)
    with warnings.catch_warnings():  # long legends: a cramped layout is fine, a terminal warning is not
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    canvas.draw()  # type: ignore[no-untyped-call]  # matplotlib's Agg canvas is untyped
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)  # type: ignore[no-untyped-call]
    h, w = canvas.get_width_height()[::-1]
    return rgba.reshape(h, w, 4)[..., :3].permute(2, 0, 1).float() / 255  # (3, H, W)


def default_out(paths: list[Path], runs: list[Path]) -> Path:
    """The sweep directory when one was given; else the runs' common parent's ``compare`` folder."""
    import os

    sweeps = [p for p in paths if (p / SWEEP_FILE).exists()]
    if len(sweeps) == 1 and len(paths) == 1:
        return sweeps[0]
    common = Path(os.path.commonpath([str(r.resolve()) for r in runs])) if runs else Path.cwd()
    if any(common == r.resolve() for r in runs):
        common = common.parent
    return common / "compare"


def sweep_names(paths: list[Path]) -> list[str]:
    """The names of the sweeps among ``paths`` (directories with a sweep.json)."""
    names = []
    for path in paths:
        if (path / SWEEP_FILE).exists():
            try:
                names.append(str(json.loads((path / SWEEP_FILE).read_text())["name"]))
            except (OSError, ValueError, KeyError):
                continue
    return names


def track(
    table: Comparison,
    markdown_text: str,
    image: Any,
    out: Path,
    first_run: Path,
    registry: Any,
    sweeps: Sequence[str] = (),
) -> None:
    """Log the table (and plot) as a run of its own in the tracker of the first run's recipe, tagged
    ``compare`` and ``sweep:<name>`` for each sweep compared (so it sits beside the sweep's runs)."""
    from dvcore import recipe as recipes
    from dvcore.run import RECIPE_FILE
    from dvcore.track.base import RunInfo

    recipe = recipes.load(first_run / RECIPE_FILE, registry=registry)
    info = RunInfo(
        experiment=recipe.experiment,
        name=f"compare {out.name}",
        directory=out,
        runs_root=Path(recipe.runs_root),
        description=f"dvcore compare of {sum(len(r.runs) for r in table.rows)} runs",
        tags=(recipe.experiment, "compare", *(f"sweep:{name}" for name in sweeps)),
    )
    tracker = registry.get("tracker", recipe.tracker.name).build(recipe.tracker.options, run=info)
    try:
        tracker.log_text("compare", markdown_text)
        if image is not None:
            tracker.log_images({"compare": image}, 0, context="compare")
    finally:
        tracker.close()
