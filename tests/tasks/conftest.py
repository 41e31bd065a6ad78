"""Task tests run tiny models on tiny data: one intra-op thread is faster there (and on a busy machine)."""

from __future__ import annotations

from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
