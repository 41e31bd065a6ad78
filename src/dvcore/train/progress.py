"""Progress display: a rich bar on a terminal, plain periodic lines elsewhere (CI, SLURM logs)."""

from __future__ import annotations

import resource
import sys
import time

import attrs
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainProgress:
    def __init__(self, total: int, start: int = 0, every: int = 10, enabled: bool = True):
        self.total, self.every, self.enabled = total, every, enabled
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self._t0, self._start = time.perf_counter(), start
        self._bar = None
        if self.live:
            self._bar = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._bar.add_task("train", total=total, completed=start, info="")
            self._bar.start()

    def update(self, step: int, loss: float, samples_per_s: float) -> None:
        if not self.enabled:
            return
        info = f"loss {loss:.4f}  {samples_per_s:,.0f} samples/s"
        if self._bar is not None:
            self._bar.update(self._task, completed=step, info=info)
        elif step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self._t0
            done = max(step - self._start, 1)
            eta = elapsed / done * (self.total - step)
            print(f"step {step}/{self.total}  {info}  eta {eta:.0f}s", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB (process RSS)


@attrs.define
class LogWindow:
    """The steps since the last log line and when it was written (for samples/s)."""

    start: float = attrs.field(factory=time.perf_counter)
    steps: int = 0
