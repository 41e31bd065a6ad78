"""Graceful stop: SIGTERM, SIGINT and SIGUSR1 (SLURM pre-emption) end the run after the current step.

The loop checks ``requested`` after each step, writes a checkpoint and stops. A
second stop signal of any of these kinds interrupts at once (KeyboardInterrupt), so a
run that is stuck inside a step (a slow evaluation, a blocked read) can always be
ended from outside without kill -9; it then resumes from its last checkpoint.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StopRequest:
    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}  # signal -> the handler it had (a callable, an int or None)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
