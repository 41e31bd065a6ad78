"""Contracts of what drives and records a run: tasks and trackers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from dvcore.recipe import Recipe
    from dvcore.registry import Registry
    from dvcore.tasks.base import EvalResult
    from dvcore.track.base import RunInfo

Tensor = torch.Tensor


# ----------------------------------------------------------------------------------------------
# tracker
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Tracker(Protocol):
    """Records a run: hyper-parameters, scalars, images, files.

    Called on rank 0 only. ``log_scalars(values, step, context)`` gets ``{name: float}``
    (eval scores named ``"<predictor>/<metric>"``); ``log_images`` gets ``{name: (3, H, W)
    float in [0, 1]}``; ``close()`` is called once at the end, also after a failure. Set
    ``run_id`` to the tracker's own id of the run: it is stored in the run directory and
    handed back as ``RunInfo.resume_id`` when the run resumes. Subclass
    ``dvcore.api.TrackerBase`` (every method a no-op) and override what you record.
    """

    run_id: str | None

    def log_hparams(self, hparams: dict[str, Any]) -> None: ...

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None: ...

    def log_images(self, images: dict[str, Tensor], step: int, context: str = "eval") -> None: ...

    def log_file(self, path: Any, name: str | None = None) -> None: ...

    def close(self) -> None: ...


class TrackerFactory(Protocol):
    """``factory(options, *, run: RunInfo) -> Tracker`` (experiment, run name, run directory, resume id)."""

    def __call__(self, options: Any, *, run: RunInfo) -> Tracker: ...


# ----------------------------------------------------------------------------------------------
# task
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Task(Protocol):
    """What a batch teaches the model, and how the model is scored.

    ``channels()`` -> (C_in, C_out) of the backbone; ``datasets()`` -> ``{"train": ..., "eval":
    ...}`` map-style datasets; ``training_loss(model, batch)`` -> (scalar loss, {name: float}
    to log), with ``batch`` the collated samples on the model's device; ``evaluate(model,
    batches)`` -> ``EvalResult(scores, images)`` with scores named ``"<predictor>/<metric>"``;
    ``state_dict()`` / ``load_state_dict(state)`` keep JSON-able training state (e.g. a
    noise generator) across resume; ``summary()`` adds facts to summary.json.

    Optional capabilities (sample, movie frames, evaluate a run, loss per timestep) are
    declared in ``dvcore.tasks.capabilities``; the CLI asks a task for them, never for a
    task by name. Subclass ``dvcore.api.TaskBase`` for the defaults.
    """

    def channels(self) -> tuple[int, int]: ...

    def datasets(self) -> dict[str, Any]: ...

    def training_loss(self, model: Any, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Any]]: ...

    def evaluate(self, model: Any, batches: Iterable[dict[str, Tensor]]) -> EvalResult: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def summary(self) -> dict[str, Any]: ...


class TaskFactory(Protocol):
    """``factory(options, *, recipe, registry) -> Task``.

    The task builds what it needs from the recipe through the registry (its datasets
    from ``recipe.data``, its loss from ``recipe.loss``, metrics from ``recipe.eval``) and
    raises ``RecipeError`` with one line per problem, each starting with the TOML path.
    """

    def __call__(self, options: Any, *, recipe: Recipe, registry: Registry) -> Task: ...
