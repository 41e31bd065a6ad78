"""Building a recipe's components: the task (with its data, loss, metrics) and the backbone it asks for."""

from __future__ import annotations

import attrs
import torch
from torch import nn

from dvcore.errors import RecipeError
from dvcore.recipe import Recipe
from dvcore.registry import Registry
from dvcore.tasks.base import Task


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RecipeError(["device: 'cuda' requested but no CUDA device is available"])
    return torch.device(name)


@attrs.define
class Components:
    task: Task
    model: nn.Module


def build_components(recipe: Recipe, registry: Registry, device: torch.device | str = "cpu") -> Components:
    """Build the task (with its data, loss, metrics) and the backbone the task asks for."""
    task = registry.get("task", recipe.task.name).build(recipe.task.options, recipe=recipe, registry=registry)
    in_channels, out_channels = task.channels()
    backbone = registry.get("backbone", recipe.model.name)
    with torch.device(device):
        model = backbone.build(recipe.model.options, in_channels=in_channels, out_channels=out_channels)
    return Components(task, model)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
