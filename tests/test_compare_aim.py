"""`dvcore compare` logs its table (and plot) to the Aim repo of the runs it compares, read back through
Aim's own Repo API after indexing (as `aim up` does)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

aim = pytest.importorskip("aim")

# after the skip: these import aim-free modules only, but keep the core env's collection trivial
from dvcore.cli import main  # noqa: E402
from tests.conftest import TINY_RECIPE, reindex  # noqa: E402

# width -> seed -> model/mae (lower is better)
MAE = {4: {0: 0.30, 1: 0.20}, 8: {0: 0.10, 1: 0.12}}


@pytest.fixture
def aim_sweep(tmp_path):
    """A finished two-point, two-seed sweep as `dvcore sweep` leaves it, its runs tracked in one Aim repo."""
    directory = tmp_path / "runs" / "tiny" / "s"
    points = []
    for width, seeds in MAE.items():
        for seed, mae in seeds.items():
            run = directory / f"width={width},seed={seed}"
            run.mkdir(parents=True)
            recipe = TINY_RECIPE.replace("RUNS_ROOT", str(tmp_path / "runs"))
            recipe = recipe.replace("width = 8", f"width = {width}").replace("seed = 0", f"seed = {seed}")
            recipe = recipe.replace('name = "none"', f'name = "aim"\nrepo = "{tmp_path / "aim"}"')
            (run / "recipe.toml").write_text(recipe)
            summary = {"status": "completed", "eval": {"model/mae": mae, "blend/mae": 0.25}}
            (run / "summary.json").write_text(json.dumps(summary))
            points.append(
                {"name": run.name, "values": {"model.width": width, "seed": seed}, "run_dir": str(run)}
            )
    (directory / "sweep.json").write_text(json.dumps({"name": "s", "points": points}))
    return directory


@pytest.mark.slow  # Aim's run, close and reindex: ~20 CPU-s
def test_compare_logs_the_table_and_plot_to_aim(testplug, aim_sweep, tmp_path):
    result = CliRunner().invoke(main, ["compare", str(aim_sweep), "--metric", "mae"])
    assert result.exit_code == 0, result.output
    printed = (aim_sweep / "compare.md").read_text()
    assert "| 8 | 0,1 | **0.1100 ± 0.0141** |" in printed  # mean ± sample std, lower is better

    reindex(tmp_path / "aim")
    runs = list(aim.Repo.from_path(str(tmp_path / "aim")).iter_runs())
    (run,) = [r for r in runs if r.name == "compare s"]
    assert run.experiment == "tiny" and sorted(run.props.tags) == ["compare", "sweep:s", "tiny"]
    from aim.storage.context import Context

    texts = run.get_text_sequence("compare", Context({"subset": "run"}))
    steps, (values, *_) = texts.data.items_list()
    assert steps == [0] and values[0].data.strip() == printed.strip()  # the table as the terminal showed it
    images = run.get_image_sequence("compare", Context({"subset": "compare"}))
    steps, (values, *_) = images.data.items_list()
    assert steps == [0] and values[0].to_pil_image().size[0] > 100  # the plot of mae against width
