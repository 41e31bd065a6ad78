"""What every benchmark script shares: timing a call, the spread of rounds, and the lines that say
where the figures come from (command, machine, load, CPU time), and writing the results file.

Times are taken as wall (``perf_counter``) and process CPU time (``process_time``, user + sys of
this process): on a shared machine the wall time carries the other processes' load, the CPU time
of a one-thread run much less, so tables report both.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``, the device synchronized before and after."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def median_spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max) of per-round values."""
    return statistics.median(values), min(values), max(values)


def machine(device: torch.device, threads: int) -> list[str]:
    """Lines that say where the figures come from."""
    try:
        import diffusers

        versions = f"torch {torch.__version__}, diffusers {diffusers.__version__}"
    except ImportError:
        versions = f"torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu}, {os.cpu_count()} cores"
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {versions}",
        f"- device: {device.type} ({where}); torch threads: {threads}",
    ]


def command_line(script: str, argv: list[str] | None) -> str:
    """How this run was started, for the results file."""
    return " ".join(["python", f"benchmarks/{script}", *(sys.argv[1:] if argv is None else argv)])


def load_line(before: tuple[float, ...], after: tuple[float, ...]) -> str:
    fmt = "/".join(f"{v:.1f}" for v in before), "/".join(f"{v:.1f}" for v in after)
    return (
        f"- load average (1/5/15 min) before: {fmt[0]}, after: {fmt[1]} on {os.cpu_count()} cores "
        "(a load above the core count means other processes shared the CPUs; read times as relative)"
    )


class Session:
    """A script's whole run: the load average and the CPU time spent, for its results file."""

    def __init__(self) -> None:
        self.load = os.getloadavg()
        self.wall = time.perf_counter()
        self.cpu = _cpu_seconds()

    def lines(self) -> list[str]:
        """The load line and '- whole run: W s wall, C s CPU (user + sys)'."""
        wall, cpu = time.perf_counter() - self.wall, _cpu_seconds() - self.cpu
        return [
            load_line(self.load, os.getloadavg()),
            f"- whole run: {wall:.0f} s wall, {cpu:.0f} s CPU (user + sys, this process)",
        ]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_report(path: Path, text: str) -> None:
    """Write the results file (folders made) and echo it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
    print(text)
    print(f"written to {path}", file=sys.stderr)


def header(*columns: str) -> list[str]:
    """A markdown table's header and rule lines."""
    return [row(*columns), "|" + "---|" * len(columns)]


def row(*cells: object) -> str:
    """A markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"
