"""Peak tensor memory on any device, the CPU included: a dispatch mode counting live storages.

torch reports peak memory on CUDA only (``torch.cuda.max_memory_allocated``); the process RSS
(``ru_maxrss``) only grows, so it cannot compare variants run in one process. ``PeakMemory``
sees every tensor an op creates while it is active (forward, backward, optimizer, EMA),
adds the bytes of each new storage and subtracts them when the storage is freed; tensors that
exist before (weights, optimizer state) are passed as ``external`` and counted as a base.
Under ``FakeTensorMode`` it measures a step without running it (shapes only): the peak of a
full-frame step that would not fit in this machine's memory. The figure is the
allocator-independent payload (CUDA's caching allocator rounds up, so the CUDA figure is a little
higher); it is exact for what it counts.

``peak_memory_mb`` is the other CPU method (benchmarks/backbones.py, train_step.py): the CPU
allocator's own running total as torch.profiler reports it; it needs a real run.
"""

from __future__ import annotations

import json
import tempfile
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakMemory(TorchDispatchMode):
    """``with PeakMemory(model.parameters(), ...) as m: ...``; then ``m.peak_mb``."""

    def __init__(self, *external: Iterable[torch.Tensor] | torch.Tensor):
        super().__init__()
        self.live: dict[tuple[str, int], int] = {}
        self.current = self.peak = 0
        for group in external:
            for t in [group] if isinstance(group, torch.Tensor) else group:
                self._track(t)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        inputs = {_key(t) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and _key(t) not in inputs:  # views and in-place ops alias an input
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        nbytes = storage.nbytes()
        key = _key(t)
        if nbytes == 0 or key in self.live:
            return
        self.live[key] = nbytes
        self.current += nbytes
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: tuple[str, int]) -> None:
        self.current -= self.live.pop(key, 0)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def _key(t: torch.Tensor) -> tuple[str, int]:
    """The storage's identity: its StorageImpl's address (shared by views; fake tensors have one too)."""
    storage = t.untyped_storage()
    return str(storage.device), storage._cdata


def optimizer_state(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimizer's state tensors (moments, steps), for ``external``."""
    return [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]


def cuda_peak_mb(fn: Callable[[], Any], device: torch.device) -> tuple[float, float]:
    """(peak MiB allocated while ``fn()`` runs, MiB allocated before it), CUDA's allocator counters."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20, before / 2**20


def measure_peak_mb(
    fn: Any, device: torch.device, external: Iterable[torch.Tensor] = ()
) -> tuple[float, float]:
    """(peak MiB while ``fn()`` runs, MiB held before it): CUDA's allocator counters, else ``PeakMemory``.

    ``external``: the tensors held before the call (weights, EMA, optimizer state) on the CPU,
    where nothing else knows them; on CUDA the allocator already counts them.
    """
    if device.type == "cuda":
        return cuda_peak_mb(fn, device)
    tracker = PeakMemory(list(external))
    before = tracker.current
    with tracker:
        fn()
    return tracker.peak_mb, before / 2**20


def peak_memory_mb(fn: Callable[[], Any], device: torch.device) -> float:
    """Peak of the tensor memory allocated while ``fn`` runs, above what was held before it, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus the memory
    allocated before. CPU: PyTorch's CPU allocator reports each allocation and free to the profiler
    when ``profile_memory=True``, with a running total of the bytes allocated while profiling; the
    peak of that total over the call (taken from the trace's ``[memory]`` events) is the same
    quantity. It counts tensors (activations kept for backward, gradients, temporaries, compiled
    kernels' buffers), not memory that oneDNN or the C++ runtime allocate on their own, nor
    allocator caching, so it is a lower bound of the process's RSS growth, not RSS. Memory allocated
    before the call and freed during it is not subtracted (the grads are freed before the call).
    """
    if device.type == "cuda":
        peak, before = cuda_peak_mb(fn, device)
        return peak - before
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    memory = sorted(
        (e for e in events if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0),
        key=lambda e: e["ts"],
    )
    if not memory:
        return 0.0
    # The total counts allocations made while any profiler session was on; start from its value
    # just before the first event of this call.
    start = memory[0]["args"]["Total Allocated"] - memory[0]["args"]["Bytes"]
    return max(e["args"]["Total Allocated"] - start for e in memory) / 2**20
