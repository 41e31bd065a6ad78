"""What a task can do beyond training and evaluation: the optional capabilities the CLI asks for.

The task contract itself (channels, datasets, training loss, evaluation, state) is
``dvcore.protocols.Task``. The commands below need more, and ask the task for it by
capability, never by the task's name, so a third-party task that implements a method
gets the command, and one that does not is answered with one line naming the task and
its distribution (``require``; exit code 2):

- ``dvcore sample``            ``SamplesImages.sample``
- ``dvcore eval gen RUN``      ``SamplesImages.sample``
- ``dvcore movie``             ``MakesMovieFrames.movie_frames``
- ``dvcore eval interp``       ``EvaluatesRuns.evaluate_run``
- ``dvcore eval loss-per-t``   ``LossPerTimestep.loss_per_timestep``

A task that has the method but cannot serve it in its configuration (loss per timestep of a
regression run, say) raises ``RecipeError`` with one line saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dvcore.errors import RecipeError

if TYPE_CHECKING:
    import numpy as np
    from torch import nn


@runtime_checkable
class SamplesImages(Protocol):
    """Draws new images from the trained model (``dvcore sample``).

    ``sample(model, num, *, generator, sampler, num_steps, record)`` returns an object with
    ``images`` (num, C, H, W) float in [0, 1] on the CPU, ``trajectory`` (a list of
    ``TrajectoryStep`` when ``record``, else None) and ``timesteps``. ``generator`` is one
    ``torch.Generator`` or a list of ``num`` (image i then depends on generator i only);
    ``sampler`` / ``num_steps`` None mean the recipe's.
    """

    def sample(
        self,
        model: nn.Module,
        num: int,
        *,
        generator: Any = None,
        sampler: Any = None,
        num_steps: int | None = None,
        record: bool = False,
    ) -> Any: ...


@runtime_checkable
class MakesMovieFrames(Protocol):
    """Renders what the model does as movie frames (``dvcore movie``).

    ``movie_frames(model, *, num, sampler, num_steps, seed, scale)`` -> a list of (H, W, 3)
    uint8 frames, the same for the same seed; ``num`` is how many samples or clips to show,
    ``scale`` the integer pixel upscaling.
    """

    def movie_frames(
        self, model: nn.Module, *, num: int, sampler: Any, num_steps: int | None, seed: int, scale: int
    ) -> list[np.ndarray]: ...


@runtime_checkable
class EvaluatesRuns(Protocol):
    """Scores a trained model on the eval split, sample by sample, beside the baselines (``dvcore eval
    interp``).

    ``evaluate_run(model, metrics, *, samples_per_item, max_samples, batch_size, seed)`` with
    ``metrics`` {name: built metric} returns one row per (item, predictor): ``{"clip": index,
    "predictor": "model" or a baseline, "samples": n, <metric>: mean over the samples drawn,
    <metric>_std: their std}``. ``samples_per_item`` None means the task's own default.
    """

    def evaluate_run(
        self,
        model: nn.Module,
        metrics: dict[str, Any],
        *,
        samples_per_item: int | None,
        max_samples: int | None,
        batch_size: int,
        seed: int,
    ) -> list[dict[str, Any]]: ...


@runtime_checkable
class LossPerTimestep(Protocol):
    """The held-out diffusion loss in buckets of t (``dvcore eval loss-per-t``).

    ``loss_per_timestep(model, *, buckets, max_samples, batch_size, seed)`` (``buckets`` of t;
    None = the loss's own count) returns an object with
    ``per_t.compute() -> (centres, means, counts)``, ``count`` (samples seen) and
    ``figure() -> (3, H, W)`` image of the curve.
    """

    def loss_per_timestep(
        self, model: nn.Module, *, buckets: int | None, max_samples: int | None, batch_size: int, seed: int
    ) -> Any: ...


#: capability -> (the method it needs, what a command would have asked for)
DESCRIPTIONS: dict[type, tuple[str, str]] = {
    SamplesImages: ("sample", "sample images"),
    MakesMovieFrames: ("movie_frames", "make movie frames"),
    EvaluatesRuns: ("evaluate_run", "evaluate a run sample by sample"),
    LossPerTimestep: ("loss_per_timestep", "compute the loss per timestep"),
}


def require(task: Any, capability: type, *, command: str, name: str, origin: str, source: str) -> None:
    """Raise ``RecipeError`` (one line, exit code 2) unless ``task`` has ``capability``.

    ``name`` is the task's name in the recipe, ``origin`` its distribution (and version),
    ``source`` the run directory the command was given.
    """
    if isinstance(task, capability):
        return
    method, what = DESCRIPTIONS[capability]
    raise RecipeError(
        [
            f"dvcore {command}: task {name!r} of {origin} cannot {what} "
            f"(it has no {method}(); see dvcore.tasks.capabilities.{capability.__name__})"
        ],
        source,
    )
