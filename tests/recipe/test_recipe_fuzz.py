"""Fuzzing `dvcore validate` with mutated recipes: exit 0 or 2, one line per problem, never a traceback.

Mutations of a small valid recipe: a value replaced by the wrong type, a boundary number
(0, -1, 2**31, 2**63, inf, nan), empty or control-character or non-ASCII text, a table or an
array where a scalar belongs, a missing or an unknown key, an array of tables; and mutations of
the file's bytes (bad UTF-8, truncation, an oversized file). Validation runs in-process.

CI runs the "dvcore-ci" profile (a bounded number of examples); run more by hand with
``DVCORE_FUZZ_PROFILE=dvcore-long pytest tests/recipe/test_recipe_fuzz.py`` (or set
``DVCORE_FUZZ_EXAMPLES=N``).
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvcore.cli import main
from tests.conftest import TINY_RECIPE

settings.register_profile(
    "dvcore-ci",
    max_examples=int(os.environ.get("DVCORE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dvcore-long",
    max_examples=int(os.environ.get("DVCORE_FUZZ_EXAMPLES", "5000")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = os.environ.get("DVCORE_FUZZ_PROFILE", "dvcore-ci")

BASE = tomllib.loads(TINY_RECIPE.replace("RUNS_ROOT", "runs"))


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    return out


PATHS = [
    *_paths(BASE),
    ("train", "ema"),
    ("train", "max_epochs"),
    ("train", "clip_grad_norm"),
    ("train", "betas"),
    ("eval", "max_samples"),
    ("data", "height"),
    ("data", "speed"),
    ("schedule",),
    ("sampler",),
    ("run_name",),
    ("nonsense",),
    ("model", "nonsense"),
]

SCALARS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**32, 2**63 - 1, -(2**63)]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0.0, -0.0, -1.0, 1e-300, 1e300, float("inf"), float("-inf"), float("nan")]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["", " ", "\x00", "a\x00b", "../..", "/", "..", "é", "名前", "\u202e", "x" * 5000]),
    st.text(max_size=20),
    st.sampled_from(
        ["interpolate", "generate", "moving_shapes", "tiny_conv", "pixel", "none", "mae", "copy"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["name", "width", "size", "x", ""]), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[str, tuple[str, ...], Any]]:
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["set", "set", "set", "delete", "array_of_tables"]))
        out.append((kind, draw(st.sampled_from(PATHS)), draw(VALUES)))
    return out


def apply(recipe: dict[str, Any], changes: list[tuple[str, tuple[str, ...], Any]]) -> dict[str, Any]:
    data = copy.deepcopy(recipe)
    for kind, path, value in changes:
        node = data
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if kind == "delete":
            node.pop(path[-1], None)
        elif kind == "array_of_tables":
            node[path[-1]] = [node.get(path[-1]) if isinstance(node.get(path[-1]), dict) else {"x": 1}]
        else:
            node[path[-1]] = value
    return data


def render(data: dict[str, Any]) -> bytes:
    try:
        return tomli_w.dumps(data).encode()
    except (TypeError, ValueError):  # a value TOML cannot write (e.g. an int beyond 64 bits)
        return TINY_RECIPE.encode()


@st.composite
def recipe_files(draw: st.DrawFn) -> bytes:
    text = render(apply(BASE, draw(mutations())))
    damage = draw(st.sampled_from(["none"] * 6 + ["bytes", "truncate", "oversize"]))
    if damage == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=4)) + text[at:]
    elif damage == "truncate":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    elif damage == "oversize":
        text = text + b"#" * (1 << 20)
    return text


def assert_clean(result: Any) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    if result.exit_code == 2:
        assert lines and lines[-1].endswith("nothing was run"), lines
        assert all(line.strip() for line in lines)
    else:
        assert ": ok — " in lines[-1], lines


@pytest.mark.slow
@settings(settings.get_profile(PROFILE))
@given(content=recipe_files())
def test_validate_never_shows_a_traceback(testplug, tmp_path_factory, content):
    path: Path = tmp_path_factory.mktemp("fuzz") / "recipe.toml"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert_clean(result)


@settings(settings.get_profile(PROFILE))
@given(changes=mutations())
def test_set_overrides_never_show_a_traceback(testplug, tmp_path_factory, changes):
    path: Path = tmp_path_factory.mktemp("fuzz") / "recipe.toml"
    path.write_text(TINY_RECIPE.replace("RUNS_ROOT", "runs"))
    args = ["validate", str(path)]
    for kind, keys, value in changes:
        if kind != "set":
            continue
        try:
            text = tomli_w.dumps({"v": value}).removeprefix("v = ").strip()
        except (TypeError, ValueError):
            text = str(value)
        args += ["--set", f"{'.'.join(keys)}={text}"]
    assert_clean(CliRunner().invoke(main, args))


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00\x00", b"[[train]]\nlr = 1\n", b"train = 'x'\n", b"a = 1\n" * 3, b""],
)
def test_known_hostile_files(testplug, tmp_path, content):
    path = tmp_path / "recipe.toml"
    path.write_bytes(content)
    assert_clean(CliRunner().invoke(main, ["validate", str(path)]))
