"""Checkpoints: safetensors for tensors, JSON for the rest, written atomically, never unpickled.

A checkpoint is a directory ``checkpoints/step_XXXXXXXX/`` holding

- ``model.safetensors`` (and ``ema.safetensors`` when there is an EMA),
- ``optimizer.safetensors``: the optimizer's per-parameter state, flattened to
  ``state.<param index>.<name>`` keys,
- ``state.json``: step, epoch, optimizer param groups and the non-tensor parts of
  its state, the data loader's position, RNG states, the tracker run id,
- ``manifest.json``: size and sha256 of every file above.

It is written into ``step_XXXXXXXX.tmp`` and renamed into place, so a crash
never leaves a half-written checkpoint under the final name; a checkpoint whose
files do not match their manifest is skipped with a warning in favour of the
previous one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dvcore.atomic import fsync_dir

MANIFEST = "manifest.json"


class CorruptCheckpointError(RuntimeError):
    pass


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (disk full, file size limit, permissions); nothing was left
    behind."""


# ----------------------------------------------------------------------------------------------
# Flattening optimizer state
# ----------------------------------------------------------------------------------------------


def flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """optimizer.state_dict() -> (tensors by flat key, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in state_dict["state"].items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in rest["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    # JSON turned tuples (AdamW's betas) into lists; give them back as torch stores them.
    groups = [
        {k: v if k == "params" or not isinstance(v, list) else tuple(v) for k, v in g.items()}
        for g in rest["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


# ----------------------------------------------------------------------------------------------
# RNG states
# ----------------------------------------------------------------------------------------------


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every RNG that training touches: python, numpy, torch CPU (and CUDA)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state: Any = np.random.get_state()  # the legacy tuple (name, keys, pos, has_gauss, gauss)
    rest = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    return tensors, rest


def set_rng_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, state, gauss = rest["python"]
    random.setstate((version, tuple(state), gauss))
    name, keys, pos, has_gauss, cached = rest["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


# ----------------------------------------------------------------------------------------------
# Writing and reading
# ----------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(
    directory: Path,
    step: int,
    tensors: dict[str, dict[str, torch.Tensor]],
    state: dict[str, Any],
    keep_last: int | None = None,
) -> Path:
    """Write ``{name}.safetensors`` for each entry of ``tensors`` plus ``state.json``; atomically.

    Returns the final checkpoint directory. Keeps only the ``keep_last`` newest
    checkpoints when given.
    """
    directory = Path(directory)
    final = directory / f"step_{step:08d}"
    tmp = directory / f"step_{step:08d}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write(tmp, tensors, state)
    except (OSError, SafetensorError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # the previous checkpoints stay as they were
        raise CheckpointWriteError(f"cannot write checkpoint {final}: {_io_reason(exc)}") from exc
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(directory)
    if keep_last:
        for old in list_checkpoints(directory)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _io_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    # safetensors: "Error while serializing: I/O error: File too large (os error 27)"
    found = re.search(r"I/O error: (.*?) \(os error \d+\)", str(exc))
    return found[1] if found else str(exc)


def _write(tmp: Path, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any]) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, group in tensors.items():
        # safetensors refuses shared storage; clone views (e.g. tied weights) into their own tensors.
        save_file(
            {k: v.detach().cpu().contiguous().clone() for k, v in group.items()}, tmp / f"{name}.safetensors"
        )
    (tmp / "state.json").write_text(json.dumps(state))
    manifest = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    for p in tmp.iterdir():  # make the bytes durable before the rename makes them visible
        with open(p, "rb") as f:
            os.fsync(f.fileno())


def list_checkpoints(directory: Path) -> list[Path]:
    """Finished checkpoints, oldest first."""
    if not Path(directory).is_dir():
        return []
    return sorted(
        p
        for p in Path(directory).iterdir()
        if p.is_dir() and p.name.startswith("step_") and "." not in p.name
    )


def verify(path: Path) -> None:
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise CorruptCheckpointError(f"{path}: no {MANIFEST}")
    for name, expected in json.loads(manifest_path.read_text()).items():
        file = path / name
        if not file.exists():
            raise CorruptCheckpointError(f"{file}: missing")
        if file.stat().st_size != expected["size"]:
            raise CorruptCheckpointError(f"{file}: size {file.stat().st_size}, expected {expected['size']}")
        if _sha256(file) != expected["sha256"]:
            raise CorruptCheckpointError(f"{file}: checksum mismatch")


def load(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read one checkpoint directory (verified against its manifest)."""
    verify(path)
    tensors = {p.name.removesuffix(".safetensors"): load_file(p) for p in path.glob("*.safetensors")}
    return tensors, json.loads((path / "state.json").read_text())


Loaded = tuple[Path, dict[str, dict[str, torch.Tensor]], dict[str, Any]]


def find_latest(directory: Path) -> tuple[Loaded | None, list[str]]:
    """The newest checkpoint that verifies, and one line per newer one that did not (why)."""
    failures = []
    for path in reversed(list_checkpoints(directory)):
        try:
            tensors, state = load(path)
        except Exception as exc:  # a damaged file may fail in any way; it is skipped
            failures.append(_reason(path, exc))
            continue
        return (path, tensors, state), failures
    return None, failures


def _reason(path: Path, exc: BaseException) -> str:
    """One line: the checkpoint (or its file) and why it cannot be used."""
    if isinstance(exc, CorruptCheckpointError):
        return str(exc)  # already names the file
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{path}: {type(exc).__name__}: {text}" if text else f"{path}: {type(exc).__name__}"


def load_latest(directory: Path) -> Loaded | None:
    """The newest checkpoint that verifies; corrupt ones are reported and skipped."""
    found, failures = find_latest(directory)
    for line in failures:
        print(f"dvcore: warning: skipping corrupt checkpoint: {line}", file=sys.stderr)
    return found


# ----------------------------------------------------------------------------------------------
# JSON for the non-tensor state (a task's small tensors go into state.json this way)
# ----------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """Tensors (any nesting of dicts / lists) -> JSON-able {"__tensor__": dtype, shape, data}."""
    if isinstance(value, torch.Tensor):
        return {"__tensor__": str(value.dtype).removeprefix("torch."), "shape": list(value.shape),
                "data": value.detach().cpu().flatten().tolist()}  # fmt: skip
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """The inverse of ``to_json``; float64 values round-trip exactly (JSON keeps repr)."""
    if isinstance(value, dict) and "__tensor__" in value:
        dtype = getattr(torch, value["__tensor__"])
        return torch.tensor(value["data"], dtype=dtype).reshape(value["shape"])
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value
