"""Every recipe in recipes/ passes `dvcore validate`, or names the data it is missing.

Each ``recipes/*.toml`` is validated through the CLI (click's CliRunner, from the repository root
so relative paths resolve as they do for a user there):

- A recipe that names a component nobody registered is skipped, with the missing names: the
  core-only tox env installs no plugin, so recipes that use ``unet`` or ``psnr`` cannot validate
  there. What is registered is read from the plugin registry, not guessed from file names.
- A recipe that reads files from disk says so with a comment line naming the option that holds
  the path, e.g. ``# requires-data: data.root``. If that path does not exist on this machine,
  validate must exit with code 2 and a message that names the path (the one-line error a user
  gets instead of a traceback); if it exists, validate must pass like any other recipe.
- Every other recipe must validate: exit code 0 and the ``ok`` line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import dvcore.plugins
from dvcore import recipe as recipes
from dvcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))
REQUIRES_DATA = re.compile(r"^#\s*requires-data:\s*(\S+)\s*$", re.MULTILINE)

# recipe section -> registry kind (eval.metrics holds a list of metric components)
SECTION_KINDS = {
    "task": "task",
    "data": "dataset",
    "model": "backbone",
    "loss": "loss",
    "schedule": "schedule",
    "sampler": "sampler",
    "tracker": "tracker",
}


def component_names(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every component a recipe names; a section may be a bare name or a table."""

    def name_of(section: Any) -> str | None:
        return section if isinstance(section, str) else (section or {}).get("name")

    found = [(kind, name_of(data.get(key))) for key, kind in SECTION_KINDS.items()]
    found += [("metric", name_of(m)) for m in data.get("eval", {}).get("metrics", [])]
    found += [("baseline", b) for b in data.get("eval", {}).get("baselines") or []]
    return [(kind, name) for kind, name in found if isinstance(name, str)]


def required_data(text: str, data: dict[str, Any]) -> list[str]:
    """The paths named by the recipe's ``# requires-data: section.key`` comments."""
    paths = []
    for dotted in REQUIRES_DATA.findall(text):
        value: Any = data
        for key in dotted.split("."):
            assert isinstance(value, dict) and key in value, (
                f"requires-data: {dotted} is not set in the recipe"
            )
            value = value[key]
        paths.append(str(value))
    return paths


@pytest.fixture(scope="module")
def registry():
    return dvcore.plugins.load().registry


def test_the_recipes_folder_has_recipes():
    assert RECIPES, f"no recipes in {ROOT / 'recipes'}"


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_validates(path, registry, monkeypatch):
    text = path.read_text()
    data = recipes.read(path)  # with its `extends` chain merged in
    missing = [f"{kind} {name!r}" for kind, name in component_names(data) if (kind, name) not in registry]
    if missing:
        pytest.skip(f"not registered here: {', '.join(missing)}")
    monkeypatch.chdir(ROOT)

    result = CliRunner().invoke(main, ["validate", str(path)])

    absent = [p for p in required_data(text, data) if not Path(p).expanduser().exists()]
    if absent:
        assert result.exit_code == 2, result.output
        for p in absent:
            assert p in result.output, f"the message does not name the missing path {p!r}:\n{result.output}"
        assert "Traceback" not in result.output
    else:
        hint = (
            "\n(a recipe that reads files should say so: # requires-data: <section.key of the path>)"
            if "does not exist" in result.output
            else ""
        )
        assert result.exit_code == 0, result.output + hint
        assert f"{path}: ok" in result.output
