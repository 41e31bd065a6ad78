"""Sweeps: a grid of recipe overrides (times seeds) expanded into runs named by what differs.

A sweep is a recipe plus a grid, given on the command line
(``dvcore sweep RECIPE --grid model.tokens=linear,quantized --seeds 0,1``) or in a
``[sweep]`` table of a recipe file::

    extends = "../interp_n5.toml"
    [sweep]
    name = "interp_ablation"          # default: the file's stem
    seeds = [0, 1]
    [sweep.grid]
    "model.tokens" = ["linear", "quantized"]
    "model.residual" = [true, false]

Each point of the grid is one ``dvcore run`` of the recipe with the point's values as
``--set`` overrides, in its own directory ``<runs_root>/<experiment>/<sweep>/<point>``,
the point named by its values (``tokens=linear,residual=true,seed=0``). Every point is
validated before any starts; a point whose run directory holds a completed run is
skipped, one with a checkpoint resumes (exactly, as ``dvcore run --resume`` does), so a
stopped sweep continues where it stopped when the same command runs again. Launchers
(this machine, or a SLURM job array through submitit) live in ``sweep_launch``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import attrs
import tomli_w

from dvcore import recipe as recipes
from dvcore.errors import RecipeError
from dvcore.registry import Registry

SWEEP_FILE = "sweep.json"
BASE_RECIPE = "base_recipe.toml"  # the recipe every point runs (resolved, without [sweep]), in the sweep dir
Status = Literal["new", "resume", "done", "restart"]


@attrs.frozen
class Sweep:
    """A recipe file, the grid of overrides to expand, and what applies to every point."""

    recipe: Path
    name: str
    grid: dict[str, list[Any]]  # dotted key -> values, in the order given
    seeds: list[int] | None = None
    overrides: tuple[str, ...] = ()  # --set applied to every point (before the grid values)
    jobs: int = 1
    nproc_per_run: int = 1
    slurm: dict[str, Any] = attrs.field(factory=dict)  # submitit parameters for --launcher slurm


@attrs.frozen
class Point:
    """One run of a sweep."""

    name: str  # the run directory's name: the values that differ, e.g. tokens=linear,seed=0
    values: dict[str, Any]  # dotted key -> value (the grid's, and seed)
    overrides: tuple[str, ...]  # every --set of the run, in order
    run_dir: Path


# ----------------------------------------------------------------------------------------------
# Reading a sweep
# ----------------------------------------------------------------------------------------------


def parse_values(text: str) -> list[Any]:
    """``linear,quantized`` / ``1e-3,3e-3`` / ``[1,2],[3,4]`` -> TOML values (a bare word stays a string)."""
    parts, depth, current, quote = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return [recipes.parse_override(f"v={part.strip()}")[1] for part in parts]


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``--grid key=v1,v2`` options -> {key: [v1, v2]}."""
    grid, problems = {}, []
    for item in items:
        if "=" not in item:
            problems.append(f"--grid {item}: expected key.path=value1,value2,...")
            continue
        key, values = item.split("=", 1)
        grid[key.strip()] = parse_values(values)
    if problems:
        raise RecipeError(problems)
    return grid


def from_file(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The ``[sweep]`` table of a recipe file (with its bases merged in); (None, {}) when it has none."""
    table = recipes.read(path).get(recipes.SWEEP)
    if table is None:
        return None, {}
    problems, out = [], {}
    if not isinstance(table, dict):
        raise RecipeError([f"{path}: sweep: expected a table, got {table!r}"])
    known = {"name", "grid", "seeds", "jobs", "nproc_per_run", "slurm"}
    problems += [
        f"{path}: sweep.{k}: unknown key; valid keys: {', '.join(sorted(known))}"
        for k in table
        if k not in known
    ]
    grid = table.get("grid", {})
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        problems.append(
            f'{path}: sweep.grid: expected a table of non-empty arrays, e.g. "model.lr" = [1e-3, 3e-3]'
        )
    else:
        out["grid"] = grid
    seeds = table.get("seeds")
    if seeds is not None and not (isinstance(seeds, list) and all(_is_int(s) and s >= 0 for s in seeds)):
        problems.append(f"{path}: sweep.seeds: expected an array of seeds >= 0, got {seeds!r}")
    for key in ("jobs", "nproc_per_run"):
        if key in table and not (_is_int(table[key]) and table[key] >= 1):
            problems.append(f"{path}: sweep.{key}: expected an integer >= 1, got {table[key]!r}")
    if "slurm" in table and not isinstance(table["slurm"], dict):
        problems.append(f"{path}: sweep.slurm: expected a table of submitit parameters")
    if "name" in table and not (isinstance(table["name"], str) and _safe_name(table["name"])):
        problems.append(f"{path}: sweep.name: expected a name usable as a directory, got {table['name']!r}")
    if problems:
        raise RecipeError(problems)
    return table.get("name"), {**{k: table[k] for k in known & table.keys() if k != "name"}, **out}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safe_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*", name))


def recipe_without_sweep(path: Path) -> dict[str, Any]:
    data = recipes.read(path)
    data.pop(recipes.SWEEP, None)
    return data


# ----------------------------------------------------------------------------------------------
# Expanding a sweep into points
# ----------------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A value as the right-hand side of a TOML assignment (what ``--set`` parses), on one line."""
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "-".join(_label(v) for v in value)
    text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text) or "_"


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each dotted key's last part, or the whole key where two last parts collide."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def expand(sweep: Sweep, sweep_dir: Path, base_tags: list[str] | None = None) -> list[Point]:
    """Every point of the grid (times seeds), in grid order; single-valued keys do not name runs."""
    keys = list(sweep.grid)
    varied = [k for k in keys if len(sweep.grid[k]) > 1]
    seeds: list[int | None] = list(sweep.seeds) if sweep.seeds else [None]
    labels = short_keys(varied + (["seed"] if sweep.seeds and len(sweep.seeds) > 1 else []))
    points = []
    for combo in itertools.product(*(sweep.grid[k] for k in keys)):
        for seed in seeds:
            values = dict(zip(keys, combo, strict=True))
            if seed is not None:
                values["seed"] = seed
            named = [k for k in values if k in labels]
            name = ",".join(f"{labels[k]}={_label(values[k])}" for k in named) or sweep.name
            tags = [
                *(base_tags or []),
                f"sweep:{sweep.name}",
                *(f"{k}={_label(values[k])}" for k in named if k != "seed"),
            ]
            overrides = (
                *sweep.overrides,
                *(f"{k}={toml_value(v)}" for k, v in values.items()),
                f"run_name={toml_value(name)}",
                f"tags={toml_value(tags)}",
            )
            points.append(Point(name, values, overrides, sweep_dir / name))
    return points


def base_recipe(sweep: Sweep, registry: Registry) -> recipes.Recipe:
    """The recipe with the overrides common to every point (no grid values)."""
    return _structure(sweep.recipe, sweep.overrides, registry)


def sweep_dir(base: recipes.Recipe, sweep: Sweep) -> Path:
    """``<runs_root>/<experiment>/<sweep name>``."""
    return Path(base.runs_root) / base.experiment / sweep.name


def _structure(path: Path, overrides: Iterable[str], registry: Registry) -> recipes.Recipe:
    """As ``dvcore run`` will load it (a ``name`` override switches the component), without [sweep]."""
    original = recipe_without_sweep(path)
    data = recipes.apply_overrides(copy.deepcopy(original), list(overrides))
    recipes.switch_components(original, data, list(overrides), registry)  # its notices: once, by the run
    recipe: recipes.Recipe = recipes.structure(data, registry)
    return recipe


# ----------------------------------------------------------------------------------------------
# Validating every point before any runs; the state of each point's run directory
# ----------------------------------------------------------------------------------------------


def validate(sweep: Sweep, points: list[Point], registry: Registry, *, build: bool = True) -> None:
    """Structure (and, with ``build``, build on the meta device) every point; all problems at once."""
    from dvcore.run import RECIPE_FILE
    from dvcore.run import validate as validate_run

    problems: list[str] = []
    names = [p.name for p in points]
    problems += [
        f"sweep: two points are both named {n!r}" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    for point in points:
        try:
            recipe = _structure(sweep.recipe, point.overrides, registry)
            if build:
                validate_run(recipe, registry)
        except RecipeError as exc:
            problems += [f"{point.name}: {line}" for line in exc.problems]
            continue
        existing = point.run_dir / RECIPE_FILE
        if existing.exists():
            differ = _differences(recipes.to_dict(recipe, registry), existing, registry)
            if differ:
                problems.append(
                    f"{point.name}: {point.run_dir} holds a run of another recipe (differs in "
                    f"{', '.join(differ)}); move it away or give the sweep another name"
                )
    if problems:
        raise RecipeError(problems)


def _differences(wanted: dict[str, Any], existing: Path, registry: Registry) -> list[str]:
    try:
        have = recipes.to_dict(recipes.load(existing, registry=registry), registry)
    except RecipeError:
        return ["(its recipe.toml does not load)"]
    ignore = {"description"}
    a, b = flatten(wanted), flatten(have)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k not in ignore)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables -> dotted keys; arrays stay values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def status(point: Point) -> Status:
    """done: a completed run; resume: a checkpoint to continue from; restart: a run dir without one."""
    from dvcore.run import SUMMARY_FILE
    from dvcore.train import checkpoint

    summary = point.run_dir / SUMMARY_FILE
    if summary.exists():
        try:
            state = json.loads(summary.read_text()).get("status", "completed")
        except (OSError, ValueError):
            state = None
        if state == "completed":
            return "done"
    if checkpoint.list_checkpoints(point.run_dir / "checkpoints"):
        return "resume"
    return "restart" if point.run_dir.exists() else "new"


def write_manifest(sweep: Sweep, points: list[Point], directory: Path) -> None:
    """``sweep.json``: what the sweep is and which runs it made (read by ``dvcore compare``); and the
    recipe its runs start from (``base_recipe.toml``: the file with its bases merged in, no [sweep])."""
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "name": sweep.name,
        "recipe": str(sweep.recipe),
        "grid": sweep.grid,
        "seeds": sweep.seeds,
        "overrides": list(sweep.overrides),
        "points": [{"name": p.name, "values": p.values, "run_dir": str(p.run_dir)} for p in points],
    }
    _write(directory / SWEEP_FILE, json.dumps(record, indent=2))
    _write(directory / BASE_RECIPE, tomli_w.dumps(recipe_without_sweep(sweep.recipe)))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
