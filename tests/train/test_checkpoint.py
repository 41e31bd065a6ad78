"""Checkpoints are atomic, verified, and never unpickled."""

from __future__ import annotations

import torch

from dvcore.train import checkpoint


def write(directory, step, value):
    return checkpoint.save(directory, step, {"model": {"w": torch.full((4,), float(value))}}, {"step": step})


def test_save_is_atomic_and_load_round_trips(tmp_path):
    path = write(tmp_path, 7, 1.5)
    assert path.name == "step_00000007" and not (tmp_path / "step_00000007.tmp").exists()
    tensors, state = checkpoint.load(path)
    assert torch.equal(tensors["model"]["w"], torch.full((4,), 1.5)) and state == {"step": 7}


def test_corrupt_latest_falls_back_to_previous_with_a_warning(tmp_path, capsys):
    write(tmp_path, 1, 1.0)
    latest = write(tmp_path, 2, 2.0)
    data = (latest / "model.safetensors").read_bytes()
    (latest / "model.safetensors").write_bytes(data[: len(data) // 2])  # truncated
    path, _, state = checkpoint.load_latest(tmp_path)
    assert path.name == "step_00000001" and state["step"] == 1
    assert "skipping corrupt checkpoint" in capsys.readouterr().err


def test_flipped_byte_is_detected(tmp_path):
    latest = write(tmp_path, 3, 3.0)
    data = bytearray((latest / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (latest / "model.safetensors").write_bytes(bytes(data))
    assert checkpoint.load_latest(tmp_path) is None


def test_unfinished_temp_directory_is_ignored(tmp_path):
    write(tmp_path, 1, 1.0)
    (tmp_path / "step_00000002.tmp").mkdir()
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_00000001"]


def test_keep_last_prunes_old_checkpoints(tmp_path):
    for step in range(1, 5):
        checkpoint.save(tmp_path, step, {"model": {"w": torch.zeros(1)}}, {}, keep_last=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_00000003", "step_00000004"]


def test_optimizer_state_flattens_and_restores(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, rest = checkpoint.flatten_optimizer(opt.state_dict())
    assert set(tensors) == {f"state.{i}.{k}" for i in (0, 1) for k in ("step", "exp_avg", "exp_avg_sq")}
    restored = checkpoint.unflatten_optimizer(tensors, rest)
    opt2 = torch.optim.AdamW(model.parameters(), lr=0.1)
    opt2.load_state_dict(restored)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
