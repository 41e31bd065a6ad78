"""Checks that need the built components, done before any work: splits, batches, memory.

The recipe loader checks every value on its own; these checks need the data and the
model: a train split that yields no batch would loop for ever, and a batch or a model
that does not fit in memory would be found out only by the kernel's OOM killer.

The memory estimate is a lower bound (no activations): one batch of samples per
batch in flight (the step's plus ``prefetch``), plus the model's parameters, their
gradients, the optimizer's state and the EMA, in float32.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from dvcore.recipe import Recipe

GIB = 2**30
OPTIMIZER_STATES = {"adamw": 2, "adam": 2, "sgd": 1}


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes that can still be allocated on ``device``; None when unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except (RuntimeError, AssertionError):
            return None
    if device.type != "cpu":
        return None
    limits = [_meminfo_available(), _cgroup_available()]
    known = [v for v in limits if v is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """cgroup v2: memory.max - memory.current of this process's group (containers)."""
    try:
        with open("/proc/self/cgroup") as f:
            group = f.read().strip().split("::", 1)[-1]
        base = f"/sys/fs/cgroup{group}"
        with open(os.path.join(base, "memory.max")) as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open(os.path.join(base, "memory.current")) as f:
            current = int(f.read().strip())
        return max(int(limit) - current, 0)
    except (OSError, ValueError):
        return None


def _virtual_size() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextlib.contextmanager
def memory_budget(extra_bytes: int | None) -> Iterator[None]:
    """Within the block, allocations beyond ``extra_bytes`` more than now fail with MemoryError.

    Used while components are built and one sample is read, before anything could
    say how large a sample is: a recipe asking for a 100000x100000 frame then fails at
    once instead of swapping the machine to a halt. Linux only (RLIMIT_AS); elsewhere,
    or when the numbers are unknown, the block runs unguarded.
    """
    now = _virtual_size()
    if extra_bytes is None or now is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = now + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield  # already tighter
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class TookTooLong(BaseException):
    """Building or reading did not finish within the time budget (see ``time_budget``).

    A BaseException, like KeyboardInterrupt, so that a component's ``except Exception`` cannot
    swallow it; ``dvcore.validate.validate`` catches it by name.
    """


def validate_seconds() -> float:
    """The time budget of ``dvcore validate``'s building (DVCORE_VALIDATE_TIMEOUT, default 300 s)."""
    try:
        return float(os.environ.get("DVCORE_VALIDATE_TIMEOUT", "300"))
    except ValueError:
        return 300.0


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Within the block, raise ``TookTooLong`` after ``seconds`` (main thread, POSIX; else unguarded).

    A count that is in bounds but absurd (a backbone of 2**31 res blocks, a schedule of 2**31
    steps) builds for hours, not for ever: validation gives up with one line instead.
    """
    if (
        seconds <= 0
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
    ):
        yield
        return

    def on_alarm(_signum: int, _frame: object) -> None:
        raise TookTooLong(f"still not done after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocator failing ("can't allocate memory", CUDA out of memory)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("allocate" in text or "out of memory" in text)


def split_problems(recipe: Recipe, splits: Mapping[str, Any], world_size: int = 1) -> list[str]:
    """Splits that are empty, and a train batch larger than the (per-process) train split."""
    problems = []
    sizes = {name: len(ds) for name, ds in splits.items()}
    for name, n in sizes.items():
        if n == 0:
            problems.append(f"data: the {name} split is empty")
    train = sizes.get("train", 0) // max(world_size, 1)
    batch = recipe.train.batch_size
    if train and batch > train:
        per_process = f" per process ({world_size} processes)" if world_size > 1 else ""
        problems.append(
            f"train.batch_size: {batch} is larger than the train split ({train} samples{per_process}); "
            "no batch could ever be drawn"
        )
    return problems


def sample_bytes(sample: Mapping[str, Any]) -> int:
    return sum(v.element_size() * v.numel() for v in sample.values() if isinstance(v, torch.Tensor))


def memory_problems(
    recipe: Recipe, sample_size: int, parameters: int, available: int | None, where: str = "memory"
) -> list[str]:
    """One line when the lower-bound estimate of a training step exceeds ``available`` bytes."""
    if available is None:
        return []
    cfg = recipe.train
    in_flight = 1 + cfg.prefetch
    batch = sample_size * max(cfg.batch_size * in_flight, recipe.eval.batch_size)
    copies = 2 + OPTIMIZER_STATES.get(cfg.optimizer, 2) + (1 if cfg.ema else 0)  # weights, grads, ...
    model = parameters * 4 * copies
    if batch + model <= available:
        return []
    key = "train.batch_size" if batch >= model else "model"
    return [
        f"{key}: training needs at least {gib(batch + model)} ({gib(batch)} for batches of "
        f"{cfg.batch_size} samples of {gib(sample_size)}, {gib(model)} for {parameters:,} parameters "
        f"with gradients and optimizer state), but only {gib(available)} of {where} is available"
    ]


def gib(n: float) -> str:
    return f"{n / GIB:.3g} GiB" if n >= GIB / 100 else f"{n / 2**20:.3g} MiB"
