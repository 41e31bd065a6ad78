"""What a user sees of plugin loading: a failure named once, strict mode, clashes, switching a component."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from dvcore.cli import main
from tests.test_plugins import BROKEN, BROKEN_LINE, CLASH
from tests.testplug import make_distribution

ROOT = Path(__file__).resolve().parents[2]
CORE = metadata.version("dvcore")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "300"})  # wide enough for rich not to wrap


def test_dvcore_plugins_names_a_broken_plugin_once_and_exits_0(testplug):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    result = invoke("plugins")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"dvcore: warning: {BROKEN_LINE}\n"
    assert "dvcore-broken" not in result.stdout
    assert "tiny_conv" in result.stdout  # the others are listed


def test_strict_mode_exits_2_with_one_line_and_no_traceback(testplug, monkeypatch):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    monkeypatch.setenv("DVCORE_STRICT_PLUGINS", "1")
    result = invoke("plugins")
    assert result.exit_code == 2
    assert result.stderr == f"dvcore: error: {BROKEN_LINE} (DVCORE_STRICT_PLUGINS=1)\n"
    assert result.stdout == ""


def test_dvcore_plugins_shows_a_clash_under_both_qualified_names(testplug):
    make_distribution(testplug, "dvcore-dup", "dvcore_dup", CLASH)
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    assert result.stderr == (
        f"dvcore: warning: tracker 'none' is registered by both dvcore {CORE} and dvcore-dup 0.0.1; "
        "a recipe must write 'dvcore:none' or 'dvcore-dup:none'\n"
    )
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)["components"]}
    assert rows["tracker", "dvcore:none"]["clash"] and rows["tracker", "dvcore-dup:none"]["clash"]
    assert ("tracker", "none") not in rows
    assert not rows["loss", "my_extra_loss"]["clash"]
    table = invoke("plugins").stdout
    assert "dvcore-dup:none" in table and "clash: the bare name is withdrawn" in table


def test_setting_a_sections_name_switches_the_component_with_one_notice(fresh_plugins):
    pytest.importorskip("dvcore_interp")
    pytest.importorskip("dvcore_unet")
    recipe = str(ROOT / "recipes" / "interp_n5.toml")
    result = invoke("validate", recipe, "--set", "model.name=unet")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "dvcore: note: --set model.name=unet: dropped the file's model options that unet does not take: "
        "motion, motion_inputs, prior, residual, size, src_field, tgt_field, token_patch, tokens, "
        "warped_inputs\n"
    )
    assert result.stdout.startswith(f"{recipe}: ok — unet with ")


def test_options_given_with_the_switch_are_kept_and_validated(fresh_plugins):
    pytest.importorskip("dvcore_interp")
    pytest.importorskip("dvcore_unet")
    recipe = str(ROOT / "recipes" / "interp_n5.toml")
    result = invoke(
        "validate",
        recipe,
        "--set",
        "model.name=unet",
        "--set",
        "model.tokens=1",
        "--set",
        "model.base_channels=0",
    )
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "dvcore: note: --set model.name=unet: dropped the file's model options that unet does not take: "
        "motion, motion_inputs, prior, residual, size, src_field, tgt_field, token_patch, warped_inputs"
    )
    assert lines[1] == "model.base_channels: expected > 0, got 0"
    assert lines[2].startswith("model.tokens: unknown key; ")
    assert lines[3] == f"dvcore: 2 problems in {recipe}; nothing was run"
