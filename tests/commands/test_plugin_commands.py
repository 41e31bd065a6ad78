"""`dvcore plugins show` and `dvcore plugin new`: what an author sees, and the scaffold never overwriting."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dvcore.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_plugins_show_prints_every_option_with_type_default_constraints_and_doc():
    result = invoke("plugins", "show", "loss", "diffusion")
    assert result.exit_code == 0, result.output
    assert "loss diffusion: " in result.output and "from dvcore " in result.output
    assert "  huber_delta: float = 1.0; > 0\n      Huber loss threshold" in result.output
    assert "  target: choice = 'eps'; one of 'eps', 'x0', 'v'" in result.output


def test_plugins_show_json_lists_constraints_and_cross_field_checks():
    result = invoke("plugins", "show", "schedule", "linear", "--json")
    facts = json.loads(result.output)
    beta_end = next(o for o in facts["options"] if o["name"] == "beta_end")
    assert beta_end["constraints"] == ["> 0", "<= 1"]
    assert facts["cross_field_checks"]


def test_plugins_show_names_a_task_without_capabilities():
    result = invoke("plugins", "show", "task", "interpolate")
    assert result.exit_code == 0 and "capabilities: " in result.output


def test_plugins_show_an_unknown_component_is_one_line_and_exit_2():
    result = invoke("plugins", "show", "loss", "difusion")
    assert result.exit_code == 2
    assert "unknown loss 'difusion' (did you mean 'diffusion'?)" in result.output
    assert "Traceback" not in result.output


def test_plugins_without_a_subcommand_still_lists_everything():
    result = invoke("plugins", "--json")
    assert result.exit_code == 0 and any(
        c["name"] == "linear" for c in json.loads(result.output)["components"]
    )


def test_plugin_new_writes_an_installable_package(tmp_path: Path):
    result = invoke("plugin", "new", "dvcore-sharpen", "--kind", "backbone", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    root = tmp_path / "dvcore-sharpen"
    assert (
        '[project.entry-points.dvcore]\nsharpen = "dvcore_sharpen.plugin"'
        in (root / "pyproject.toml").read_text()
    )
    plugin = (root / "src" / "dvcore_sharpen" / "plugin.py").read_text()
    assert 'DVCORE_PLUGIN_API = "1"' in plugin and 'registrar.add("backbone", "sharpen"' in plugin
    assert "check_component" in (root / "tests" / "test_sharpen.py").read_text()
    assert (root / "README.md").exists() and (root / "src" / "dvcore_sharpen" / "options.py").exists()


def test_plugin_new_never_overwrites(tmp_path: Path):
    (tmp_path / "dvcore-sharpen").mkdir()
    (tmp_path / "dvcore-sharpen" / "mine.txt").write_text("keep me")
    result = invoke("plugin", "new", "dvcore-sharpen", "--kind", "metric", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "already exists" in result.output and "Traceback" not in result.output
    assert [p.name for p in (tmp_path / "dvcore-sharpen").iterdir()] == ["mine.txt"]


def test_plugin_new_refuses_a_bad_name_or_kind(tmp_path: Path):
    bad_name = invoke("plugin", "new", "my plugin", "--kind", "metric", "--dir", str(tmp_path))
    bad_kind = invoke("plugin", "new", "dvcore-x", "--kind", "widget", "--dir", str(tmp_path))
    assert bad_name.exit_code == 2 and "plugin name: expected" in bad_name.output
    assert bad_kind.exit_code == 2 and "--kind: expected one of backbone" in bad_kind.output
    assert list(tmp_path.iterdir()) == []
