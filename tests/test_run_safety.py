"""`dvcore run` never clobbers a directory, never loses a run on resume, and always leaves a summary
(issue 13). Each test pins the exact line a user sees and the exit code.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from dvcore.cli import main
from dvcore.train import trainer as trainer_module

pytestmark = pytest.mark.slow  # short trainings (a few seconds each)


def run(*args: str):
    result = CliRunner().invoke(main, ["run", *args, "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


SHORT = ("--set", "train.max_steps=4", "--set", "train.checkpoint_every=2")


# ----------------------------------------------------------------------------------------------
# --run-dir
# ----------------------------------------------------------------------------------------------


def test_a_users_folder_is_refused_and_left_untouched(testplug, tiny_recipe, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "recipe.toml").write_text("my own notes\n")
    code, lines = run(str(tiny_recipe), "--run-dir", str(mine), *SHORT)
    assert code == 2
    assert lines[0] == (
        f"--run-dir {mine}: not empty and not a dvcore run; nothing was written (choose a new or empty "
        "directory)"
    )
    assert snapshot(mine) == {"recipe.toml": b"my own notes\n"}


def test_a_run_dir_under_a_regular_file_is_one_line(testplug, tiny_recipe, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, lines = run(str(tiny_recipe), "--run-dir", str(blocker / "run"), *SHORT)
    assert code == 2
    assert lines[0] == f"--run-dir {blocker / 'run'}: cannot create the run directory: Not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_location_is_one_line(testplug, tiny_recipe, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, lines = run(str(tiny_recipe), "--run-dir", str(locked / "run"), *SHORT)
    assert code == 2
    assert lines[0] == f"--run-dir {locked / 'run'}: cannot create the run directory: Permission denied"


def test_an_existing_run_needs_resume_or_restart(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    assert run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)[0] == 0
    before = snapshot(run_dir)
    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)
    assert code == 2
    assert lines[0] == (
        f"--run-dir {run_dir}: holds a dvcore run already; continue it with `dvcore run --resume {run_dir}`, "
        "or start over with --restart (the old run is moved aside)"
    )
    assert snapshot(run_dir) == before

    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), "--restart", *SHORT)
    assert code == 0, lines
    assert snapshot(tmp_path / "run.old-1") == before  # moved aside, not deleted
    assert summary(run_dir)["status"] == "completed"


# ----------------------------------------------------------------------------------------------
# --resume
# ----------------------------------------------------------------------------------------------


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_resume_with_no_checkpoint_that_verifies_writes_nothing(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    assert run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)[0] == 0
    checkpoints = run_dir / "checkpoints"
    for step in ("step_00000002", "step_00000004"):
        _flip_a_byte(checkpoints / step / "model.safetensors")
    before = snapshot(run_dir)
    code, lines = run("--resume", str(run_dir), "--set", "train.max_steps=8")
    assert code == 2
    assert lines[:3] == [
        f"{checkpoints / 'step_00000004' / 'model.safetensors'}: checksum mismatch",
        f"{checkpoints / 'step_00000002' / 'model.safetensors'}: checksum mismatch",
        f"--resume {run_dir}: no checkpoint verifies; nothing was written (start over with "
        f"`dvcore run {run_dir / 'recipe.toml'} --run-dir {run_dir} --restart`)",
    ]
    assert snapshot(run_dir) == before


def test_resume_refuses_a_change_of_model_before_touching_the_run(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    assert run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)[0] == 0
    before = snapshot(run_dir)
    code, lines = run("--resume", str(run_dir), "--set", "model.width=16")
    assert code == 2
    assert lines[0] == (
        "model.width: cannot change on --resume (the run has 8, got 16); on a resume only train.max_steps, "
        "train.max_epochs, train.eval_every, train.checkpoint_every, train.log_every, train.keep_last, "
        f"train.num_workers, train.prefetch, tracker may change; nothing in {run_dir} was changed"
    )
    assert snapshot(run_dir) == before
    # the run is intact: a plain resume that trains longer works, and keeps the previous recipe
    code, lines = run("--resume", str(run_dir), "--set", "train.max_steps=6")
    assert code == 0, lines
    assert summary(run_dir)["steps"] == 6
    assert (run_dir / "recipe.resume-1.toml").read_bytes() == before["recipe.toml"]


def test_resume_does_not_grow_the_loader_position(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    assert run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)[0] == 0
    for steps in (5, 6):
        assert run("--resume", str(run_dir), "--set", f"train.max_steps={steps}")[0] == 0
    state = json.loads((run_dir / "checkpoints" / "step_00000006" / "state.json").read_text())
    assert state["loader"]["num_yielded"] == 6  # 8 batches per epoch: still inside the first


# ----------------------------------------------------------------------------------------------
# Every ending leaves summary.json
# ----------------------------------------------------------------------------------------------


def test_a_completed_run_says_so(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    assert run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)[0] == 0
    s = summary(run_dir)
    assert (s["status"], s["steps"], s["skipped_steps"], s["error"]) == ("completed", 4, 0, None)


def test_a_diverged_run_exits_1_with_a_summary(testplug, tiny_recipe, tmp_path):
    run_dir = tmp_path / "run"
    code, lines = run(
        str(tiny_recipe),
        "--run-dir",
        str(run_dir),
        "--set",
        "train.lr=1e30",
        "--set",
        "train.max_nonfinite=2",
        "--set",
        "train.warmup_steps=0",
    )
    assert code == 1
    assert lines[-1].startswith("dvcore: training diverged: 2 consecutive steps with a non-finite loss")
    s = summary(run_dir)
    assert s["status"] == "diverged" and s["skipped_steps"] == 2
    assert s["error"].startswith("2 consecutive steps with a non-finite loss or gradient")


def at_step(monkeypatch, step: int, action) -> None:
    """Call ``action()`` inside the training loss of step ``step`` (0-based) of every Trainer."""
    original_init = trainer_module.Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        task_loss = self.task.training_loss

        def training_loss(model, batch):
            if self.step == step:
                action()
            return task_loss(model, batch)

        self.task.training_loss = training_loss

    monkeypatch.setattr(trainer_module.Trainer, "__init__", init)


def test_a_stopped_run_exits_0_with_a_summary(testplug, tiny_recipe, tmp_path, monkeypatch):
    at_step(monkeypatch, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    run_dir = tmp_path / "run"
    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), "--set", "train.max_steps=10")
    assert code == 0
    assert lines[-2:] == [
        f"dvcore: stopped by signal {int(signal.SIGTERM)} after step 3; checkpoint written.",
        f"dvcore: resume with: dvcore run --resume {run_dir}",
    ]
    s = summary(run_dir)
    assert (s["status"], s["steps"], s["error"]) == ("stopped", 3, None)


def test_a_failure_at_run_time_is_one_line_exit_1_and_keeps_the_traceback(
    testplug, tiny_recipe, tmp_path, monkeypatch
):
    def fail() -> None:
        raise RuntimeError("a disk went away")

    at_step(monkeypatch, 2, fail)
    run_dir = tmp_path / "run"
    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)
    assert code == 1
    assert lines[-1] == (
        f"dvcore: run failed at step 2: RuntimeError: a disk went away (details in {run_dir / 'error.log'})"
    )
    s = summary(run_dir)
    assert (s["status"], s["steps"], s["error"]) == ("failed", 2, "RuntimeError: a disk went away")
    assert "Traceback (most recent call last)" in (run_dir / "error.log").read_text()


def test_a_signal_during_the_final_evaluation_stops_and_the_resume_evaluates(
    testplug, tiny_recipe, tmp_path, monkeypatch
):
    original_init = trainer_module.Trainer.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        evaluate = self.task.evaluate

        def signalled_evaluate(model, batches):
            if self.step == 4:
                os.kill(os.getpid(), signal.SIGTERM)
            return evaluate(model, batches)

        self.task.evaluate = signalled_evaluate

    monkeypatch.setattr(trainer_module.Trainer, "__init__", init)
    run_dir = tmp_path / "run"
    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), "--set", "train.max_steps=4")
    assert code == 0
    assert lines[-2] == f"dvcore: stopped by signal {int(signal.SIGTERM)} after step 4; checkpoint written."
    assert (summary(run_dir)["status"], summary(run_dir)["eval"]) == ("stopped", {})
    monkeypatch.setattr(trainer_module.Trainer, "__init__", original_init)
    assert run("--resume", str(run_dir))[0] == 0
    s = summary(run_dir)
    assert s["status"] == "completed" and s["steps"] == 4 and "model/mae" in s["eval"]


def test_a_failure_while_setting_up_still_leaves_a_summary(testplug, tiny_recipe, tmp_path, monkeypatch):
    from dvcore.track.base import Tracker

    def broken_log_hparams(self, hparams):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Tracker, "log_hparams", broken_log_hparams)
    run_dir = tmp_path / "run"
    code, lines = run(str(tiny_recipe), "--run-dir", str(run_dir), *SHORT)
    assert code == 1
    assert lines[-1] == (
        f"dvcore: run failed at step 0: OSError: [Errno 28] No space left on device "
        f"(details in {run_dir / 'error.log'})"
    )
    assert (summary(run_dir)["status"], summary(run_dir)["steps"]) == ("failed", 0)


def test_a_train_split_that_gives_no_batch_cannot_spin_for_ever():
    from types import SimpleNamespace

    stub = SimpleNamespace(loader=[], cfg=SimpleNamespace(batch_size=4))
    with pytest.raises(RuntimeError, match="gives no batch of 4"):
        next(trainer_module.Trainer._batches(stub))
