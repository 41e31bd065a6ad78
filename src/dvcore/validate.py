"""``dvcore validate``: every component built without training, before anything is written.

The model is built on the meta device and run once on a meta tensor of the data's shape; one
sample is read per split; a training step that cannot fit in memory is refused (see
``dvcore.preflight``). Every failure is a ``RecipeError`` naming the recipe section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from dvcore import preflight
from dvcore.build import count_parameters
from dvcore.errors import RecipeError, one_line
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.train import init_from


def validate(recipe: Recipe, registry: Registry, *, world_size: int = 1) -> dict[str, Any]:
    """Build every component without training: the model on the meta device, one sample read per split.

    Runs the backbone once on a meta tensor of the data's shape to check that its
    output has the shape the task expects, checks that the splits give batches, and
    refuses a training step that cannot fit in memory (see ``dvcore.preflight``).
    Any failure is a ``RecipeError`` naming the section: a component that crashes on
    its options is reported, never shown as a traceback. Returns facts for the user.
    """
    # The memory of the device it would train on (a CUDA recipe still validates on a CPU machine).
    wants_cuda = recipe.device == "cuda" or (recipe.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if wants_cuda else "cpu")
    model_name = recipe.model.name
    try:
        with (  # nothing is known about sizes before a sample exists: guard the building and the read
            preflight.memory_budget(preflight.available_memory("cpu")),
            preflight.time_budget(preflight.validate_seconds()),
        ):
            model, splits, sample, (c_in, c_out) = _build_and_read(recipe, registry, world_size)
    except preflight.TookTooLong as exc:  # between two guarded steps
        raise RecipeError([f"(recipe): building the components: {exc}"]) from None
    if recipe.train.grad_checkpointing and not any(hasattr(m, "grad_checkpointing") for m in model.modules()):
        raise RecipeError([f"train.grad_checkpointing: backbone {model_name!r} does not support it"])
    key = "frames" if "frames" in sample else "image"
    if not isinstance(sample.get(key), torch.Tensor):
        raise RecipeError(["data: sample 0 of the train split has no 'frames' or 'image' tensor"])
    h, w = sample[key].shape[-2:]
    try:
        with preflight.time_budget(preflight.validate_seconds()):
            out = model(torch.empty(2, c_in, h, w, device="meta"), torch.zeros(2, device="meta"))
    except NotImplementedError:
        pass  # an op without a meta kernel: the shape check is skipped, nothing else is lost
    except (Exception, preflight.TookTooLong) as exc:  # the options built a model that cannot take this data
        raise RecipeError(
            [f"model: backbone {model_name!r} cannot take inputs of shape {(2, c_in, h, w)}: {one_line(exc)}"]
        ) from None
    else:
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, c_out, h, w):
            found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise RecipeError([f"model: {model_name} returns {found}, expected {(2, c_out, h, w)}"])
    parameters = count_parameters(model)
    memory = preflight.memory_problems(
        recipe,
        preflight.sample_bytes(sample),
        parameters,
        preflight.available_memory(device),
        where="GPU memory" if device.type == "cuda" else "memory",
    )
    if memory:
        raise RecipeError(memory)
    return {
        "parameters": parameters,
        "channels": (c_in, c_out),
        "sample_shape": tuple(sample[key].shape),
        "splits": {name: len(ds) for name, ds in splits.items()},
    }


def _build_and_read(
    recipe: Recipe, registry: Registry, world_size: int
) -> tuple[nn.Module, dict[str, Any], dict[str, Any], tuple[int, int]]:
    """The task and the backbone (on the meta device) built, the splits checked, sample 0 read."""
    task_name, model_name = recipe.task.name, recipe.model.name
    task = _attempt(
        "task",
        f"cannot build task {task_name!r}",
        lambda: registry.get("task", task_name).build(recipe.task.options, recipe=recipe, registry=registry),
    )
    c_in, c_out = _attempt("task", f"task {task_name!r} cannot give its channels", task.channels)
    backbone = registry.get("backbone", model_name)
    with torch.device("meta"):
        model = _attempt(
            "model",
            f"cannot build backbone {model_name!r} from these options",
            lambda: backbone.build(recipe.model.options, in_channels=c_in, out_channels=c_out),
        )
    if recipe.init is not None:  # the source's tensors against the model's shapes (meta tensors have them)
        source = init_from.find_source(recipe.init)
        init_from.check(recipe.init, source, init_from.match(model, source.tensors))
    splits = _attempt("data", f"cannot open the splits of dataset {recipe.data.name!r}", task.datasets)
    problems = preflight.split_problems(recipe, splits, world_size)
    if problems:
        raise RecipeError(problems)
    sample = _attempt("data", "cannot read sample 0 of the train split", lambda: splits["train"][0])
    return model, splits, sample, (c_in, c_out)


T = TypeVar("T")


def _attempt(section: str, what: str, build: Callable[[], T]) -> T:
    """``build()``, with any failure turned into one report line under ``section``."""
    try:
        return build()
    except RecipeError:
        raise
    except (
        Exception,
        preflight.TookTooLong,
    ) as exc:  # a component's crash on its options is a recipe problem
        if isinstance(exc, preflight.TookTooLong):
            raise RecipeError(
                [
                    f"{section}: {what}: {exc} (a size or count far too large? DVCORE_VALIDATE_TIMEOUT "
                    "allows longer)"
                ]
            ) from None
        if preflight.is_out_of_memory(exc):
            available = preflight.available_memory("cpu")
            room = f" ({preflight.gib(available)} available)" if available is not None else ""
            raise RecipeError([f"{section}: {what}: needs more memory than is available{room}"]) from None
        raise RecipeError([f"{section}: {what}: {one_line(exc)}"]) from None
