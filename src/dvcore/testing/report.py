"""How a check reports: sub-checks run under ``Report.check`` and fail by raising ``Failed``.

``Report.finish`` raises one ``ConformanceError`` (an ``AssertionError``) listing every failed
sub-check, one line each, so a plugin author sees all broken rules at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class ConformanceError(AssertionError):
    """A component that does not meet its kind's contract; one line per failed sub-check."""


class Failed(Exception):
    """One sub-check's failure (caught by the report)."""


def expect(condition: object, message: str) -> None:
    """Fail the current sub-check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Failed(message)


class Report:
    """Collects failed sub-checks; ``finish`` raises them all at once."""

    def __init__(self, what: str):
        self.what = what
        self.failures: list[str] = []

    @contextmanager
    def check(self, name: str) -> Iterator[None]:
        try:
            yield
        except Failed as exc:
            self.failures.append(f"{name}: {exc}")
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.failures.append(f"{name}: raised {type(exc).__name__}: {first}")

    def finish(self) -> None:
        if self.failures:
            lines = "\n".join(f"  - {f}" for f in self.failures)
            raise ConformanceError(f"{self.what} fails {len(self.failures)} check(s):\n{lines}")


def build(report: Report, make: Callable[[], Any], protocol: type, expectation: str) -> Any:
    """``make()`` under the sub-check "builds", which also expects a ``protocol``.

    When ``make()`` raises, the report is finished at once (``ConformanceError``). What was built
    is returned even when it misses the protocol, so the later sub-checks still say what they find.
    """
    built = None
    with report.check("builds"):
        built = make()
        expect(isinstance(built, protocol), expectation)
    if built is None:
        report.finish()  # raises: the failure to build is in the report
    return built


def start(kind: str, factory: Callable[..., Any], options: Any) -> tuple[Report, Any]:
    """A report for ``kind`` and the checked options instance (every check begins this way).

    Raises ``ConformanceError`` at once when the options themselves cannot be built.
    """
    from dvcore.testing.options import resolve

    report = Report(f"{kind} {getattr(factory, '__name__', factory)!r}")
    opts = resolve(options, report)
    if opts is None:
        report.finish()
    return report, opts
