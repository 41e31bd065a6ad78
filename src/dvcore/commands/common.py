"""What several commands share: options declared once, and loading what an argument names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from dvcore import recipe as recipes
from dvcore.errors import RecipeError
from dvcore.plugins import plugins as loaded_plugins
from dvcore.registry import Registry

if TYPE_CHECKING:  # heavy (torch); commands import it when they run
    from dvcore.inference import LoadedRun

FC = TypeVar("FC", bound=Callable[..., Any])

# ----------------------------------------------------------------------------------------------
# Options used by more than one command
# ----------------------------------------------------------------------------------------------

overrides_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a recipe value (TOML syntax).",
)
run_dir_argument = click.argument("run_dir", type=click.Path(path_type=Path))
ema_option = click.option(
    "--ema/--no-ema", default=None, help="EMA or raw weights (default: EMA when the run kept one)."
)
seed_option = click.option("--seed", type=int, default=0, show_default=True)
sampler_option = click.option("--sampler", help="Sampler name (default: the recipe's).")
steps_option = click.option(
    "--steps", type=click.IntRange(min=1), help="Sampling steps (default: the recipe's)."
)
eta_option = click.option("--eta", type=float, help="DDIM eta.")
track_option = click.option("--track/--no-track", default=True, help="Also log to the run's tracker.")
features_option = click.option(
    "--features", help="Feature network: inception (default; needs its weights) or random_conv."
)
weights_option = click.option("--weights", help="FID Inception weights file (default: $DVCORE_FID_WEIGHTS).")


def batch_size_option(default: int) -> Callable[[FC], FC]:
    return click.option("--batch-size", type=click.IntRange(min=1), default=default, show_default=True)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


def fail(problems: list[str], source: str) -> NoReturn:
    """Stop the command: one line per problem, exit code 2 (see ``dvcore.cli``)."""
    raise RecipeError(problems, source)


@contextmanager
def reading(source: str | Path) -> Iterator[None]:
    """Name ``source`` in the report of any ``RecipeError`` raised inside without one."""
    try:
        yield
    except RecipeError as exc:
        if exc.source is None:
            exc.source = str(source)
        raise


def registry() -> Registry:
    return loaded_plugins().registry


def load_recipe(recipe_path: str, overrides: tuple[str, ...]) -> recipes.Recipe:
    with reading(recipe_path):
        return recipes.load(recipe_path, overrides, registry())


def load_run(
    run_dir: Path,
    ema: bool | None,
    device: str,
    overrides: tuple[str, ...] = (),
    data: dict[str, Any] | None = None,
) -> LoadedRun:
    """The run's task (eval split only) and model; ``data``/``overrides`` change what it is scored on."""
    from dvcore.inference import load_run as load

    with reading(run_dir):
        return load(run_dir, registry(), ema=ema, device=device, overrides=overrides, data=data)


# Scoring a run on other data: `dvcore eval ... --set data.x=... --data FILE.toml`
eval_overrides_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override the run's recipe for this evaluation, e.g. data.num_eval=64 (TOML syntax).",
)
data_option = click.option(
    "--data",
    "data_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="TOML file whose [data] table (or top level) replaces the run's data section.",
)


def other_data(
    data_file: Path | None, overrides: tuple[str, ...]
) -> tuple[dict[str, Any] | None, str | None]:
    """(--data FILE's data section or None, a folder-friendly name for the data; None = the run's own)."""
    from dvcore.evaluation import data_section_from_file, data_tag

    if data_file is None and not overrides:
        return None, None
    with reading(data_file or "--set"):
        section = data_section_from_file(data_file) if data_file is not None else None
    return section, data_tag(data_file, overrides)


def sampler_override(name: str | None, eta: float | None, run: LoadedRun) -> Any:
    """A sampler built from --sampler/--eta (validated like a recipe section); None = the run's."""
    if name is None and eta is None:
        return None
    from dvcore.diffusion.task_parts import DEFAULT_SAMPLER
    from dvcore.recipe import SamplerSection

    default = run.recipe.sampler.name if run.recipe.sampler else DEFAULT_SAMPLER  # what the run sampled with
    section: dict[str, Any] = {"name": name or default}
    if eta is not None:
        section["eta"] = eta
    try:
        parsed = recipes.structure(section, registry(), SamplerSection)
    except RecipeError as exc:
        fail([f"--sampler/--eta: {p.removeprefix('(recipe): ')}" for p in exc.problems], "the options")
    return registry().get("sampler", parsed.name).build(parsed.options)


def require_capability(run: LoadedRun, capability: type, command: str) -> None:
    """Stop with one line naming the task and its distribution unless the run's task has ``capability``."""
    from dvcore.tasks.capabilities import require

    component = registry().get("task", run.recipe.task.name)
    require(
        run.task,
        capability,
        command=command,
        name=run.recipe.task.name,
        origin=f"{component.origin} {component.version}",
        source=str(run.run_dir),
    )
