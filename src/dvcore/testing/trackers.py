"""The tracker contract: ``factory(options, *, run)`` records hparams, scalars, images, files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

from dvcore import protocols
from dvcore.testing.report import expect, start
from dvcore.track.base import RunInfo


def check_tracker(factory: Callable[..., Any], options: Any = None, *, directory: Path | str) -> None:
    """The tracker contract: ``factory(options, *, run)`` records hparams, scalars, images, files.

    Checks, in a run under ``directory``: every method takes the documented values;
    ``run_id`` is a str or None; a second tracker built with ``resume_id = run_id`` records
    more and closes.
    """
    report, opts = start("tracker", factory, options)
    root = Path(directory)
    run = RunInfo("conformance", "run-1", root / "run-1", root)
    run.directory.mkdir(parents=True, exist_ok=True)
    file = run.directory / "notes.txt"
    file.write_text("conformance\n")
    run_id = None
    with report.check("records hparams, scalars, images and files"):
        tracker = factory(opts, run=run)
        expect(
            isinstance(tracker, protocols.Tracker),
            "expected log_hparams, log_scalars, log_images, log_file, close",
        )
        try:
            tracker.log_hparams({"seed": 0, "model": {"name": "x", "width": 8}, "lr": 1e-3, "tags": ["a"]})
            tracker.log_scalars({"loss": 0.5, "lr": 1e-3}, step=1)
            tracker.log_scalars({"model/psnr": 30.0, "blend/psnr": 25.0}, step=1, context="eval")
            tracker.log_images({"samples": torch.rand(3, 8, 8)}, step=1)
            tracker.log_file(file, "notes.txt")
            run_id = tracker.run_id
            expect(run_id is None or isinstance(run_id, str), f"run_id {run_id!r}")
        finally:
            tracker.close()
    with report.check("resumes the run from its run_id"):
        again = factory(opts, run=attrs.evolve(run, resume_id=run_id))
        try:
            again.log_scalars({"loss": 0.25}, step=2)
        finally:
            again.close()
    report.finish()
