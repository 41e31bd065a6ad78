"""Fine-tuning: `[init]` / `dvcore run --init-from RUN` loads matching weights, reports the rest, records
provenance.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import build_components, execute
from dvcore.train import init_from


@pytest.fixture
def source(testplug, tiny_recipe, tmp_path):
    """A trained tiny_conv run (width 8, depth 2) with checkpoints at steps 2 and 3."""
    registry = plugins.load().registry
    recipe = recipes.load(tiny_recipe, ["train.max_steps=3", "train.checkpoint_every=2"], registry)
    execute(recipe, registry, run_dir=tmp_path / "source", progress=False)
    return tmp_path / "source"


def test_partial_keys_load_what_matches_and_report_the_rest(source, tiny_recipe):
    registry = plugins.load().registry
    deeper = recipes.load(tiny_recipe, ["model.depth=3", f"init.from='{source}'"], registry)
    model = build_components(deeper, registry).model
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    record = init_from.initialize(model, deeper.init)
    weights_file = source / "checkpoints" / "step_00000003" / "model.safetensors"
    saved = load_file(weights_file)
    # depth 2 -> 3: net.0 and net.2 match; the source's output conv net.4 (8 -> 3) meets a hidden conv (8 ->
    # 8)
    assert record["loaded"] == 4 and record["step"] == 3 and record["weights"] == "model"
    assert record["missing"] == ["net.6.weight", "net.6.bias"]
    assert record["mismatched"] == [
        "net.4.weight: source [3, 8, 3, 3], model [8, 8, 3, 3]",
        "net.4.bias: source [3], model [8]",
    ]
    assert record["sha256"] == hashlib.sha256(weights_file.read_bytes()).hexdigest()
    state = model.state_dict()
    for name in ("net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"):
        assert torch.equal(state[name], saved[name])
    for name in ("net.4.weight", "net.6.weight"):
        assert torch.equal(state[name], fresh[name])  # unmatched: the fresh initialisation stays


def test_init_from_trains_a_new_run_from_step_zero_and_records_provenance(
    source, tiny_recipe, tmp_path, monkeypatch
):
    from dvcore.track.base import Tracker

    logged: list[dict] = []
    monkeypatch.setattr(Tracker, "log_hparams", lambda self, hparams: logged.append(hparams))
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(tiny_recipe),
            "--init-from",
            str(source),
            "--set",
            "train.max_steps=1",
            "--run-dir",
            str(tmp_path / "tuned"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"init from {source} step 3 (model weights" in result.output
        and "6 of 6 model tensors" in result.output
    )
    summary = json.loads((tmp_path / "tuned" / "summary.json").read_text())
    assert summary["steps"] == 1  # a fresh schedule, not the source's step 3
    assert summary["init"]["from"] == str(source) and summary["init"]["step"] == 3
    assert (tmp_path / "tuned" / "init.json").exists()
    # the tracker's hparams carry the same provenance: source run, step, the weights file's checksum
    (hparams,) = logged
    assert hparams["init_provenance"] == summary["init"] and len(summary["init"]["sha256"]) == 64
    assert hparams["init"]["from"] == str(source)  # and the resolved recipe's [init] section


def test_another_checkpoint_by_step(source):
    init = recipes.InitConfig(source=str(source), checkpoint=2)
    assert init_from.find_source(init).step == 2
    with pytest.raises(recipes.RecipeError) as error:
        init_from.find_source(recipes.InitConfig(source=str(source), checkpoint=7))
    assert error.value.problems == [
        f"init.checkpoint: {str(source)!r} has no checkpoint at step 7; steps: 2, 3"
    ]


@pytest.mark.parametrize(
    ("overrides", "first_line"),
    [
        (["--set", "model.width=4", "--set", "model.depth=1"], "init.from: none of the 6 tensors of"),
        (["--set", "model.depth=3", "--set", "init.strict=true"], "init.strict: "),
    ],
)
def test_nothing_matching_or_strict_is_exit_2_before_any_run_dir(
    source, tiny_recipe, tmp_path, overrides, first_line
):
    result = CliRunner().invoke(
        main,
        ["run", str(tiny_recipe), "--init-from", str(source), "--run-dir", str(tmp_path / "new"), *overrides],
    )
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0].startswith(first_line)
    assert "Traceback" not in result.output
    assert not (tmp_path / "new").exists()


def test_init_section_in_a_recipe_file_and_its_checks(testplug, tiny_recipe, tmp_path):
    registry = plugins.load().registry
    text = tiny_recipe.read_text() + f'\n[init]\nfrom = "{tmp_path / "nowhere"}"\ncheckpoint = "last"\n'
    (tmp_path / "ft.toml").write_text(text)
    with pytest.raises(recipes.RecipeError) as error:
        recipes.load(tmp_path / "ft.toml", registry=registry)
    assert error.value.problems == ["init.checkpoint: expected 'latest' or a step number, got 'last'"]
    result = CliRunner().invoke(
        main, ["validate", str(tmp_path / "ft.toml"), "--set", "init.checkpoint='latest'"]
    )
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"init.from: no such run directory '{tmp_path / 'nowhere'}'"
