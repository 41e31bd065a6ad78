"""Test-wide settings for the dit tests."""

from __future__ import annotations

from dvcore.testing.fixtures import one_thread  # noqa: F401  (autouse: one intra-op thread)
