"""Checkpoints under crashes: a kill at any point and a full disk never cost more than the checkpoint
being written (issue 13).

A child process writes checkpoints in a loop; each holds tensors that are a known function of
its step. The parent kills it with SIGKILL at a random moment (several seeds), then every
checkpoint that verifies must load and equal what was saved for its step.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from dvcore.train import checkpoint

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import torch
    from dvcore.train import checkpoint

    def tensors(step):
        g = torch.Generator().manual_seed(step)
        model = {"w": torch.randn(256, 1024, generator=g)}
        return {"model": model, "optimizer": {"m": torch.full((4096,), float(step))}}

    directory = Path(sys.argv[1])
    keep = int(sys.argv[2]) or None
    print("ready", flush=True)
    for step in range(1, 10_000):
        checkpoint.save(directory, step, tensors(step), {"step": step}, keep_last=keep)
    """
)


def expected(step: int) -> dict[str, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(step)
    return {
        "model": {"w": torch.randn(256, 1024, generator=g)},
        "optimizer": {"m": torch.full((4096,), float(step))},
    }


def _start_writer(tmp_path: Path, keep_last: int) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "ckpt"), str(keep_last)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_a_kill_during_checkpoint_writing_leaves_only_checkpoints_that_load_exactly(tmp_path, seed):
    rng = random.Random(seed)
    proc = _start_writer(tmp_path, keep_last=rng.choice([0, 2]))
    time.sleep(rng.uniform(0.3, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    directory = tmp_path / "ckpt"
    found = checkpoint.list_checkpoints(directory)
    assert found, "the writer was killed before its first checkpoint; give it more time"
    verified = 0
    for path in found:
        try:
            checkpoint.verify(path)
        except checkpoint.CorruptCheckpointError:
            continue  # skipped on resume; never loaded
        tensors, state = checkpoint.load(path)
        want = expected(state["step"])
        assert path.name == f"step_{state['step']:08d}"
        for group, values in want.items():
            for key, value in values.items():
                assert torch.equal(tensors[group][key], value), (path, group, key)
        verified += 1
    latest = checkpoint.load_latest(directory)
    assert verified >= 1 and latest is not None
    # an unfinished write is left under the .tmp name only, never under a final one
    assert all(p.name.endswith(".tmp") for p in directory.iterdir() if p not in found)


def _limit_file_size(limit: int):
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


WRITE_ONE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import torch
    from dvcore.train import checkpoint

    step = int(sys.argv[2])
    g = torch.Generator().manual_seed(step)
    try:
        tensors = {"model": {"w": torch.randn(int(sys.argv[3]), generator=g)}}
        checkpoint.save(Path(sys.argv[1]), step, tensors, {"step": step})
    except checkpoint.CheckpointWriteError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    """
)


def test_a_full_disk_fails_the_write_and_keeps_the_previous_checkpoint(tmp_path):
    script = tmp_path / "write_one.py"
    script.write_text(WRITE_ONE)
    directory = tmp_path / "ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, str(script), str(directory), "1", "1000"], env=env)
    assert ok.returncode == 0
    before = {p.name: p.read_bytes() for p in (directory / "step_00000001").iterdir()}

    full = subprocess.run(
        [sys.executable, str(script), str(directory), "2", "100000"],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(64 * 1024),
    )
    assert full.returncode == 1
    assert full.stderr.strip().splitlines() == [
        f"cannot write checkpoint {directory / 'step_00000002'}: File too large"
    ]
    assert sorted(p.name for p in directory.iterdir()) == ["step_00000001"]  # no .tmp left behind
    assert {p.name: p.read_bytes() for p in (directory / "step_00000001").iterdir()} == before
    checkpoint.verify(directory / "step_00000001")
