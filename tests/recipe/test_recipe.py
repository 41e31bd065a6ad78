"""Recipes: every class of bad input is reported at once, one line each, with its TOML path."""

from __future__ import annotations

import pytest

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.errors import RecipeError

GOOD = {
    "experiment": "e",
    "task": {"name": "interpolate"},
    "data": {"name": "moving_shapes", "size": 16},
    "model": {"name": "tiny_conv", "width": 4},
    "tracker": "none",
}


@pytest.fixture
def registry(testplug):
    return plugins.load().registry


def problems(data, registry) -> list[str]:
    with pytest.raises(RecipeError) as info:
        recipes.structure(data, registry)
    return info.value.problems


def with_(base: dict, **sections) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def test_a_good_recipe_structures_into_typed_options(registry):
    recipe = recipes.structure(GOOD, registry)
    assert recipe.model.options.width == 4 and recipe.model.options.depth == 2  # default filled in
    assert recipe.data.options.size == 16
    assert recipe.tracker.name == "none"


def test_wrong_types_are_not_coerced(registry):
    bad = with_(GOOD, model={"width": "six"}, train={"lr": "0.1", "batch_size": 2.7}, seed=True)
    assert problems(bad, registry) == [
        "model.width: expected int, got 'six'",
        "seed: expected int, got True",
        "train.batch_size: expected int, got 2.7",
        "train.lr: expected float, got '0.1'",
    ]


def test_unknown_keys_suggest_the_closest(registry):
    bad = with_(GOOD, model={"widht": 3}, train={"max_step": 3}, colour="red")
    lines = problems(bad, registry)
    assert "model.widht: unknown key; did you mean 'width'? valid keys: width, depth" in lines
    assert any(line.startswith("train.max_step: unknown key; did you mean 'max_steps'?") for line in lines)
    assert any(line.startswith("colour: unknown key;") for line in lines)
    assert len(lines) == 3


def test_unknown_component_lists_choices_and_suggests(registry):
    lines = problems(with_(GOOD, model={"name": "tiny_cnv"}), registry)
    assert len(lines) == 1
    assert lines[0].startswith(
        "model.name: unknown backbone 'tiny_cnv' (did you mean 'tiny_conv'?); valid choices: "
    )
    assert "tiny_conv" in lines[0].split("valid choices: ")[1]


def test_unknown_metric_in_a_list_has_its_index(registry):
    lines = problems(with_(GOOD, eval={"metrics": ["mae", "zzz"]}), registry)
    assert lines == [
        f"eval.metrics[1].name: unknown metric 'zzz'; valid choices: {', '.join(registry.names('metric'))}"
    ]


def test_out_of_range_values_are_all_reported(registry):
    bad = with_(GOOD, model={"width": 0}, train={"lr": -1.0, "batch_size": 0}, data={"num_frames": 4})
    assert problems(bad, registry) == [
        "data.num_frames: expected an odd number, got 4",
        "model.width: expected > 0, got 0",
        "train.batch_size: expected > 0, got 0",
        "train.lr: expected > 0, got -1.0",
    ]


def test_literal_choices_are_listed(registry):
    lines = problems(with_(GOOD, device="gpu", train={"lr_schedule": "Cosine"}), registry)
    assert lines == [
        "device: expected one of 'auto', 'cpu', 'cuda', got 'gpu'",
        "train.lr_schedule: expected one of 'constant', 'cosine', 'linear', got 'Cosine' (did you mean "
        "'cosine'?)",
    ]


def test_missing_required_sections(registry):
    assert problems({"experiment": "e", "task": "interpolate"}, registry) == [
        "data: required, but missing",
        "model: required, but missing",
    ]


def test_missing_name_in_a_section(registry):
    (line,) = problems(GOOD | {"model": {"width": 3}}, registry)
    assert line.startswith('model: missing name = "..."; valid backbone choices:')


def test_toml_syntax_error_shows_file_line_column(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('experiment = "x"\n[model\nname = "unet"\n')
    with pytest.raises(RecipeError) as info:
        recipes.parse_toml(path)
    (line,) = info.value.problems
    assert line.startswith(f"{path}:2:7: TOML syntax error:")


def test_overrides_are_toml_values_and_validated(registry, tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(
        'experiment = "e"\ntask = "interpolate"\ntracker = "none"\n[data]\nname = '
        '"moving_shapes"\n[model]\nname = "tiny_conv"\n'
    )
    recipe = recipes.load(
        path, ["model.width=5", "train.lr=1e-3", "data.speed=[0.5, 1.0]", "eval.metrics=['mae']"], registry
    )
    assert recipe.model.options.width == 5 and recipe.train.lr == 1e-3
    assert recipe.data.options.speed == [0.5, 1.0] and recipe.eval.metrics[0].name == "mae"
    with pytest.raises(RecipeError) as info:
        recipes.load(path, ["model.width=six", "train.lr='0.1'"], registry)
    assert info.value.problems == [
        "model.width: expected int, got 'six'",
        "train.lr: expected float, got '0.1'",
    ]


def test_bad_override_syntax(registry, tmp_path):
    with pytest.raises(RecipeError, match=r"expected key\.path=value"):
        recipes.apply_overrides({}, ["model.width"])
    with pytest.raises(RecipeError, match="experiment is not a table"):
        recipes.apply_overrides({"experiment": 3}, ["experiment.x=1"])


def test_resolved_recipe_round_trips_through_toml(registry, tmp_path):
    recipe = recipes.structure(with_(GOOD, eval={"metrics": ["mae"]}), registry)
    path = tmp_path / "resolved.toml"
    path.write_text(recipes.to_toml(recipe, registry))
    again = recipes.load(path, registry=registry)
    assert again.model == recipe.model and again.train == recipe.train and again.data == recipe.data
    assert "depth = 2" in path.read_text()  # defaults are written out
