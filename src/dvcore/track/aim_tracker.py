"""Aim tracker: hparams, scalars and images into a local Aim repo (browse with `aim up`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from dvcore.options import gt, opt
from dvcore.track.base import RunInfo, Tracker
from dvcore.track.images import to_uint8


@attrs.frozen
class AimOptions:
    """Where the Aim repo lives and what is recorded."""

    repo: str | None = opt(None, "Aim repo directory; unset = <runs_root>/.aim")
    system_stats_interval: float | None = opt(
        30.0, "seconds between Aim's CPU/GPU/memory samples (its system metrics); unset = off", gt(0)
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if importlib.util.find_spec("aim") is None:
            yield (
                "",
                "the aim tracker needs the aim package: pip install 'dvcore[aim]' (or tracker = \"none\")",
            )


class AimTracker(Tracker):
    def __init__(self, options: AimOptions, *, run: RunInfo):
        import aim

        self._aim = aim
        repo = Path(options.repo) if options.repo else run.runs_root / ".aim"
        repo.mkdir(parents=True, exist_ok=True)
        if not (repo / ".aim").exists():
            aim.Repo.from_path(str(repo), init=True)
        self.repo = repo
        self.run = aim.Run(
            run_hash=run.resume_id,
            repo=str(repo),
            experiment=run.experiment,
            system_tracking_interval=options.system_stats_interval,
            capture_terminal_logs=False,
        )
        if run.resume_id is None:  # a resumed run keeps its name, description and tags
            self.run.name = run.name
            if run.description:
                self.run.description = run.description
            for tag in dict.fromkeys(run.tags):
                self.run.add_tag(tag)
        self.run_id = self.run.hash

    def log_hparams(self, hparams: dict[str, Any]) -> None:
        self.run["hparams"] = hparams

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None:
        for name, value in values.items():
            self.run.track(float(value), name=name, step=step, context={"subset": context})

    def log_images(self, images: dict[str, torch.Tensor], step: int, context: str = "eval") -> None:
        for name, image in images.items():
            self.run.track(
                self._aim.Image(to_uint8(image)), name=name, step=step, context={"subset": context}
            )

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        self.run.track(self._aim.Text(text), name=name, step=step, context={"subset": "run"})

    def close(self) -> None:
        self.run.close()


def build_aim_tracker(options: AimOptions, *, run: RunInfo) -> Tracker:
    """Tracks the run in a local Aim repo; `aim up --repo <runs_root>/.aim` shows it."""
    return AimTracker(options, run=run)
