"""Recipe inheritance: `extends` chains merge key by key; cycles and missing bases are one line with the
chain.
"""

from __future__ import annotations

import textwrap
import tomllib

from click.testing import CliRunner

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.recipe_extends import merge, resolve
from dvcore.run import execute


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_chain_merges_table_by_table_with_paths_relative_to_each_file(testplug, tiny_recipe, tmp_path):
    write(
        tmp_path / "variants" / "wide.toml",
        """
        # A wider tiny_conv.
        extends = "../tiny.toml"
        experiment = "wide"
        [model]
        width = 16
        [train]
        lr = 1e-3
        """,
    )
    child = write(
        tmp_path / "variants" / "deep" / "wide_deep.toml",
        """
        extends = "../wide.toml"
        [model]
        depth = 3
        [data]
        size = 24
        """,
    )
    recipe = recipes.load(child, registry=plugins.load().registry)
    assert recipe.experiment == "wide"  # from the middle file
    assert (recipe.model.name, recipe.model.options.width, recipe.model.options.depth) == ("tiny_conv", 16, 3)
    assert recipe.train.lr == 1e-3 and recipe.train.batch_size == 8  # one key changed, the rest inherited
    assert (recipe.data.options.size, recipe.data.options.num_train) == (24, 64)
    assert recipe.description == "A wider tiny_conv."  # the nearest header comment in the chain


def test_a_section_whose_name_changes_drops_the_base_options(testplug, tiny_recipe, tmp_path):
    # the base's tracker options belong to aim; the child's tracker is another component
    base = tiny_recipe.read_text().replace('[tracker]\nname = "none"', '[tracker]\nname = "aim"\nrepo = "x"')
    write(tmp_path / "base.toml", base)
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\ntracker = "none"\n')
    recipe = recipes.load(child, registry=plugins.load().registry)
    assert recipe.tracker.name == "none"


def test_merge_rules():
    base = {"model": {"name": "a", "x": 1, "y": 2}, "train": {"lr": 1, "betas": [1, 2]}, "tracker": "aim"}
    assert merge(base, {"model": {"y": 3}}) == {**base, "model": {"name": "a", "x": 1, "y": 3}}
    assert merge(base, {"model": {"name": "b", "z": 4}})["model"] == {"name": "b", "z": 4}
    assert merge(base, {"model": "a"})["model"] == base["model"]  # the same component named bare
    assert merge(base, {"model": "b"})["model"] == "b"
    assert merge(base, {"tracker": {"repo": "r"}})["tracker"] == {"name": "aim", "repo": "r"}
    assert merge(base, {"train": {"betas": [3]}})["train"] == {"lr": 1, "betas": [3]}  # arrays replace


def test_a_cycle_is_one_line_with_the_chain(testplug, tmp_path):
    a = write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "sub/c.toml"\n')
    write(tmp_path / "sub" / "c.toml", 'extends = "../a.toml"\n')
    result = CliRunner().invoke(main, ["validate", str(a)])
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (
        f"{a}: extends: cycle: {a} -> {tmp_path / 'b.toml'} -> {tmp_path / 'sub' / 'c.toml'} "
        f"-> {tmp_path / 'sub' / '..' / 'a.toml'}"
    )
    assert "Traceback" not in result.output


def test_a_missing_base_names_the_chain(testplug, tmp_path):
    a = write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "gone.toml"\n')
    result = CliRunner().invoke(main, ["validate", str(a)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{tmp_path / 'b.toml'}: extends: no such file '{tmp_path / 'gone.toml'}' "
        f"(chain: {a} -> {tmp_path / 'b.toml'} -> {tmp_path / 'gone.toml'})",
        f"dvcore: 1 problem in {a}; nothing was run",
    ]


def test_extends_must_be_a_path(tmp_path):
    a = write(tmp_path / "a.toml", "extends = 3\n")
    try:
        resolve(a)
    except recipes.RecipeError as exc:
        assert exc.problems == [f"{a}: extends: expected a path to a base recipe, got 3"]
    else:
        raise AssertionError("no error")


def test_the_run_directory_holds_the_resolved_recipe_without_extends(testplug, tiny_recipe, tmp_path):
    child = write(tmp_path / "child.toml", 'extends = "tiny.toml"\n[train]\nmax_steps = 1\n')
    registry = plugins.load().registry
    execute(recipes.load(child, registry=registry), registry, run_dir=tmp_path / "run", progress=False)
    written = tomllib.loads((tmp_path / "run" / "recipe.toml").read_text())
    assert "extends" not in written
    assert written["train"]["max_steps"] == 1 and written["model"]["width"] == 8  # child's and base's
    assert recipes.load(tmp_path / "run" / "recipe.toml", registry=registry) == recipes.load(
        child, registry=registry
    )
