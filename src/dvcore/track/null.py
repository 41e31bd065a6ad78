"""The tracker that records nothing (tests, quick checks)."""

from __future__ import annotations

from dvcore.registry import NoOptions
from dvcore.track.base import RunInfo, Tracker


def build_null_tracker(options: NoOptions, *, run: RunInfo) -> Tracker:
    """Records nothing."""
    return Tracker()
