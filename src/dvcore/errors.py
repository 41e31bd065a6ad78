"""The errors dvcore reports to a user, and the exit codes they map to.

- ``RecipeError``: bad input (a recipe, an option, an argument). The CLI prints one line per
  problem and exits with ``EXIT_BAD_INPUT`` (2); nothing was run.
- ``TrainingStopped``: a signal stopped a run after writing a checkpoint (exit 0; resumable).
- ``TrainingDiverged``: too many non-finite steps in a row (exit 1).
- ``RunFailed``: any other error while a run trained (I/O, memory, a bug): one line, exit 1, the
  traceback kept in the run directory's error.log.
- Anything else that escapes a command: one line, exit 1, the traceback in a temporary log file.

Data sources, tasks and plugins raise ``RecipeError`` without importing the recipe schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class RecipeError(Exception):
    """A recipe that cannot run; ``problems`` holds one line per problem.

    ``source`` names what was read (a recipe file, a run directory, "the arguments") in the CLI's
    summary line; the command that reads it fills it in when the raiser did not.
    """

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = problems
        self.source = source
        super().__init__("\n".join(problems))


class TrainingStopped(Exception):
    """A signal asked the run to stop; a checkpoint was written."""

    def __init__(self, step: int, checkpoint_path: Path, signum: int):
        self.step, self.checkpoint_path, self.signum = step, checkpoint_path, signum
        super().__init__(f"stopped by signal {signum} after step {step}; checkpoint {checkpoint_path}")


class TrainingDiverged(Exception):
    """Too many consecutive non-finite steps; the last good state was checkpointed."""


class RunFailed(Exception):
    """A run ended by an error at run time (after ``step`` steps); the traceback is in ``log``."""

    def __init__(self, line: str, step: int, log: Path | None):
        self.line, self.step, self.log = line, step, log
        super().__init__(f"run failed at step {step}: {line}")


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters of it), for a one-line report."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 300:
        first = first[:300] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def raise_recipe_problems(section: str, problems: Iterable[tuple[str, str]]) -> None:
    """The one report of an options object's ``(field, message)`` problems found at build time.

    Raises ``RecipeError`` with one line ``<section>.<field>: <message>`` per problem (the TOML
    path, as the recipe loader writes it); returns when there is none.
    """
    lines = [f"{section}.{field}: {message}" for field, message in problems]
    if lines:
        raise RecipeError(lines)
