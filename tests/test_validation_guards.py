"""`dvcore validate` on hostile recipes: exit 2 with the exact line, never a traceback (issue 13).

Each test is a finding that once crashed or was accepted and then misbehaved in `run`.
"""

from __future__ import annotations

import os

import attrs
import pytest
from click.testing import CliRunner

from dvcore import preflight
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.errors import RecipeError
from dvcore.options import gt, opt
from dvcore.registry import Registrar, Registry


def validate(recipe, *overrides: str):
    args = ["validate", str(recipe)]
    for o in overrides:
        args += ["--set", o]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def refused(recipe, *overrides: str) -> list[str]:
    code, lines = validate(recipe, *overrides)
    assert code == 2, lines
    assert lines[-1].startswith("dvcore: ") and lines[-1].endswith("nothing was run")
    return lines[:-1]


# ----------------------------------------------------------------------------------------------
# The recipe file itself
# ----------------------------------------------------------------------------------------------


def test_a_recipe_that_is_not_utf8_is_one_line(tmp_path, fresh_plugins):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'experiment = "x"\n# caf\xe9\n')
    assert refused(path) == [f"{path}:2: not UTF-8 text (byte 0xe9 at offset 22)"]


def test_an_oversized_recipe_file_is_refused_before_parsing(tmp_path, fresh_plugins):
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * recipes.MAX_RECIPE_BYTES + b"\n")
    assert refused(path) == [f"{path}: recipe larger than 1048576 bytes; is this a recipe?"]


def test_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path, fresh_plugins):
    fifo = tmp_path / "recipe.toml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    assert refused(fifo) == [f"{fifo}: cannot read recipe: not a regular file"]


# ----------------------------------------------------------------------------------------------
# Standard checks every field gets
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("seed=1099511627776", "seed: expected < 4294967296, got 1099511627776"),
        ("data.size=9223372036854775807", "data.size: expected <= 2147483647, got 9223372036854775807"),
        (
            "data.num_train=9223372036854775807",
            "data.num_train: expected <= 2147483647, got 9223372036854775807",
        ),
        (
            "train.max_steps=9223372036854775807",
            "train.max_steps: expected <= 2147483647, got 9223372036854775807",
        ),
        (
            "train.log_every=9223372036854775807",
            "train.log_every: expected <= 2147483647, got 9223372036854775807",
        ),
        (
            "train.batch_size=9223372036854775807",
            "train.batch_size: expected <= 2147483647, got 9223372036854775807",
        ),
        ("train.lr=inf", "train.lr: expected a finite number, got inf"),
        ("train.lr=nan", "train.lr: expected a finite number, got nan"),
        ("train.clip_grad_norm=inf", "train.clip_grad_norm: expected a finite number, got inf"),
        ("train.betas=[0.9, inf]", "train.betas: item 1: expected a finite number, got inf"),
        ('experiment="a\\u0000b"', "experiment: expected text without control characters, got 'a\\x00b'"),
        (
            "experiment='../../../tmp/escape'",
            "experiment: expected a name usable as one folder name (no '/', '..', NUL or control "
            "characters), got '../../../tmp/escape'",
        ),
        (
            "run_name='..'",
            "run_name: expected a name usable as one folder name (no '/', '..', NUL or control "
            "characters), got '..'",
        ),
        ("eval.baselines='blend'", "eval.baselines: expected an array, got 'blend'"),
        ("train=[{lr=1.0}]", "train: expected a table, got an array of tables"),
        ("train.ema=[1]", "train.ema: expected a table, got an array"),
    ],
)
def test_values_out_of_bounds_are_one_line_each(testplug, tiny_recipe, override, line):
    assert refused(tiny_recipe, override) == [line]


def test_a_string_is_never_split_into_a_list_of_characters(testplug, tiny_recipe):
    lines = refused(tiny_recipe, "eval.metrics='psnr'")
    assert lines == ["eval.metrics: expected an array, got 'psnr'"]


# ----------------------------------------------------------------------------------------------
# Checks that need the built components
# ----------------------------------------------------------------------------------------------


def test_a_batch_larger_than_the_train_split_is_refused(testplug, tiny_recipe):
    lines = refused(tiny_recipe, "train.batch_size=65")
    assert lines == [
        "train.batch_size: 65 is larger than the train split (64 samples); no batch could ever be drawn"
    ]


def test_a_sample_too_large_for_memory_is_refused_without_allocating_it(testplug, tiny_recipe):
    lines = refused(tiny_recipe, "data.size=100000")
    # moving_shapes allocates its frame grids when the task builds its splits
    assert len(lines) == 1
    assert lines[0].startswith("task: cannot build task 'interpolate': needs more memory than is available (")


def test_a_training_step_that_cannot_fit_in_memory_is_refused(testplug, tiny_recipe, monkeypatch):
    monkeypatch.setattr(preflight, "available_memory", lambda device="cpu": 2**30)
    lines = refused(tiny_recipe, "model.width=4096")
    assert len(lines) == 1
    assert lines[0].startswith("model: training needs at least 2.26 GiB (")
    assert lines[0].endswith("with gradients and optimizer state), but only 1 GiB of memory is available")
    lines = refused(tiny_recipe, "data.size=1024", "train.batch_size=64")
    assert lines[0].startswith("train.batch_size: training needs at least ")


def test_the_interpolator_token_patch_0_is_reported_not_divided_by(tiny_recipe, fresh_plugins):
    pytest.importorskip("dvcore_interp")
    lines = refused(tiny_recipe, "model={name='patch_interpolator', token_patch=0}", "eval.metrics=[]")
    assert lines == ["model.token_patch: expected > 0, got 0"]


# ----------------------------------------------------------------------------------------------
# A component whose own checks crash
# ----------------------------------------------------------------------------------------------


def _explode(_inst, _attr, value):
    if value == 13:
        raise KeyError("thirteen")


@attrs.frozen
class FragileOptions:
    depth: int = opt(1, "layers", gt(0), _explode)
    width: int = opt(8, "channels", gt(0))

    def problems(self):
        yield "width", f"bad ratio {1 / (self.width - 8)}"  # divides by zero at the default


def test_a_crashing_validator_or_problems_is_one_report_line():
    registry = Registry()
    Registrar(registry, "t", "0").add("backbone", "fragile", lambda options, **_: None, FragileOptions)
    cls = recipes.BackboneSection

    with pytest.raises(RecipeError) as info:
        recipes.structure({"name": "fragile"}, registry, cls)
    assert info.value.problems == [
        "(recipe): internal check failed in backbone 'fragile': ZeroDivisionError: division by zero"
    ]
    with pytest.raises(RecipeError) as info:
        recipes.structure({"name": "fragile", "depth": 13}, registry, cls)
    assert info.value.problems == ["depth: internal check failed in backbone 'fragile': KeyError: 'thirteen'"]
