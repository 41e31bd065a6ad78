"""The task contract, on the task a recipe names, built through the registry as ``dvcore run`` builds it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import default_collate

from dvcore import protocols
from dvcore.registry import Registry
from dvcore.testing.options import check_options_into
from dvcore.testing.report import Report, expect


def _load_recipe(recipe: Any, registry: Registry, overrides: tuple[str, ...]) -> Any:
    from dvcore import recipe as recipes

    if isinstance(recipe, recipes.Recipe):
        return recipe
    if isinstance(recipe, str) and "\n" in recipe:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recipe.toml"
            path.write_text(recipe)
            return recipes.load(path, overrides, registry=registry)
    return recipes.load(Path(recipe), overrides, registry=registry)


def check_task(
    recipe: Any,
    *,
    registry: Registry | None = None,
    overrides: tuple[str, ...] = (),
    batch: int = 2,
    eval_batches: int = 1,
) -> None:
    """The task contract, on the task a recipe names (a ``Recipe``, a TOML path, or TOML text).

    The task is built through the registry as ``dvcore run`` builds it, with the recipe's
    backbone. Checks: ``channels`` are positive ints that build the backbone; ``datasets``
    has non-empty train and eval splits; ``training_loss`` on a collated batch is a finite
    scalar that trains the model, with float extras; two tasks built from the recipe give
    the same loss, and a task given the other's ``state_dict`` (JSON-able) continues where
    it stopped; ``evaluate`` returns scores named ``"<predictor>/<metric>"`` and images
    (3, H, W) in [0, 1]; ``summary`` is JSON-able.
    """
    if registry is None:
        from dvcore.plugins import registry as installed

        registry = installed()
    loaded = _load_recipe(recipe, registry, overrides)
    report = Report(f"task {loaded.task.name!r}")
    component = registry.get("task", loaded.task.name)
    check_options_into(loaded.task.options if loaded.task.options is not None else component.options, report)

    def build() -> Any:
        return component.build(loaded.task.options, recipe=loaded, registry=registry)

    task = model = train_batch = None
    with report.check("builds, with positive channels and a backbone for them"):
        task = build()
        expect(isinstance(task, protocols.Task), "expected channels, datasets, training_loss, evaluate, ...")
        c_in, c_out = task.channels()
        expect(
            isinstance(c_in, int) and isinstance(c_out, int) and c_in > 0 and c_out > 0, f"{(c_in, c_out)}"
        )
        torch.manual_seed(0)
        model = registry.get("backbone", loaded.model.name).build(
            loaded.model.options, in_channels=c_in, out_channels=c_out
        )
    if task is None or model is None:
        report.finish()
        return
    with report.check("train and eval splits with samples"):
        splits = task.datasets()
        expect({"train", "eval"} <= set(splits), f"splits {sorted(splits)}")
        expect(len(splits["train"]) > 0 and len(splits["eval"]) > 0, "an empty split")
        train_batch = default_collate([splits["train"][i] for i in range(min(batch, len(splits["train"])))])
    if train_batch is None:
        report.finish()
        return
    _check_training_loss(report, task, model, train_batch, build)
    _check_evaluate(report, task, model, batch, eval_batches)
    with report.check("summary is JSON-able"):
        json.dumps(task.summary())
    report.finish()


def _check_training_loss(
    report: Report, task: Any, model: nn.Module, train_batch: Any, build: Callable[[], Any]
) -> None:
    with report.check("training_loss: a finite scalar that trains the model"):
        state = json.loads(json.dumps(task.state_dict()))
        model.train()
        loss, extras = task.training_loss(model, train_batch)
        expect(loss.dim() == 0 and bool(torch.isfinite(loss)), f"loss {loss!r}")
        expect(all(isinstance(float(v), float) for v in extras.values()), "extras are not numbers")
        loss.backward()
        expect(
            any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters()),
            "no gradient",
        )
        twin = build()
        twin.load_state_dict(state)
        again, _ = twin.training_loss(model, train_batch)
        expect(
            torch.equal(loss.detach(), again.detach()), "a task restored from state_dict gives another loss"
        )
        after = json.loads(json.dumps(task.state_dict()))
        third = build()
        third.load_state_dict(after)
        next_loss, _ = task.training_loss(model, train_batch)
        resumed, _ = third.training_loss(model, train_batch)
        expect(
            torch.equal(next_loss.detach(), resumed.detach()),
            "resuming from state_dict changes the next loss",
        )


def _check_evaluate(report: Report, task: Any, model: nn.Module, batch: int, eval_batches: int) -> None:
    with report.check("evaluate: scores '<predictor>/<metric>' and images (3, H, W) in [0, 1]"):
        model.eval()
        eval_set = task.datasets()["eval"]
        batches = [
            default_collate([eval_set[i] for i in range(s, min(s + batch, len(eval_set)))])
            for s in range(0, min(len(eval_set), batch * eval_batches), batch)
        ]
        with torch.no_grad():
            result = task.evaluate(model, batches)
        bad = [k for k in result.scores if k.count("/") != 1]
        expect(not bad, f"score names without one '/': {bad[:3]}")
        expect(all(isinstance(float(v), float) for v in result.scores.values()), "a score is not a number")
        for name, image in result.images.items():
            expect(image.dim() == 3 and image.shape[0] == 3, f"image {name!r} of shape {tuple(image.shape)}")
            expect(float(image.min()) >= 0 and float(image.max()) <= 1, f"image {name!r} outside [0, 1]")
