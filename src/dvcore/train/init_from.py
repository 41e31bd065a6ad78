"""Starting a run from another run's weights (the recipe's ``[init]`` section, ``dvcore run --init-from``).

Weights only: the optimizer, the step counter, the LR schedule and the data order start
fresh. Tensors are matched by name; a tensor of the new model that the source lacks
(``missing``), one of the source the model lacks (``unexpected``) and one whose shape
differs (``mismatched``) are reported, and the unmatched ones keep their fresh
initialisation. Nothing matching, or anything unmatched under ``strict``, is a recipe
error (exit 2): a fine-tune that silently trains from scratch is worse than none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from dvcore.errors import RecipeError
from dvcore.recipe import InitConfig
from dvcore.train import checkpoint


@attrs.frozen
class InitSource:
    """The weights one checkpoint of a source run offers."""

    run_dir: Path
    checkpoint: Path
    step: int
    weights: str  # "ema" or "model"
    sha256: str  # of the safetensors file the weights came from, as its manifest records it
    tensors: dict[str, torch.Tensor]


@attrs.frozen
class InitReport:
    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]]  # name, source shape, model shape

    def lines(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"missing in the source (fresh init): {', '.join(self.missing)}")
        if self.unexpected:
            out.append(f"unexpected (not in the model, ignored): {', '.join(self.unexpected)}")
        for name, src, dst in self.mismatched:
            out.append(f"shape mismatch (fresh init): {name}: source {list(src)}, model {list(dst)}")
        return out


def find_source(init: InitConfig) -> InitSource:
    """The checkpoint ``init`` names, verified against its manifest."""
    run_dir = Path(init.source)
    ckpt_dir = run_dir / "checkpoints"
    if not run_dir.is_dir():
        raise RecipeError([f"init.from: no such run directory {str(run_dir)!r}"])
    available = checkpoint.list_checkpoints(ckpt_dir)
    if init.checkpoint == "latest":
        latest = checkpoint.load_latest(ckpt_dir)
        if latest is None:
            raise RecipeError([f"init.from: {str(run_dir)!r} has no usable checkpoint in {str(ckpt_dir)!r}"])
        path, tensors, state = latest
    else:
        path = ckpt_dir / f"step_{int(init.checkpoint):08d}"
        if path not in available:
            steps = ", ".join(str(int(p.name.removeprefix("step_"))) for p in available) or "none"
            raise RecipeError(
                [
                    f"init.checkpoint: {str(run_dir)!r} has no checkpoint at step {init.checkpoint}; steps: "
                    f"{steps}"
                ]
            )
        try:
            tensors, state = checkpoint.load(path)
        except (checkpoint.CorruptCheckpointError, OSError, ValueError) as exc:
            raise RecipeError([f"init.checkpoint: {path} is unusable: {exc}"]) from None
    weights = "ema" if init.ema and "ema" in tensors else "model"
    manifest = json.loads((path / checkpoint.MANIFEST).read_text())
    return InitSource(
        run_dir=run_dir,
        checkpoint=path,
        step=int(state["step"]),
        weights=weights,
        sha256=manifest[f"{weights}.safetensors"]["sha256"],
        tensors=tensors[weights],
    )


def match(model: nn.Module, source: dict[str, torch.Tensor]) -> InitReport:
    """Which of the model's tensors (parameters and buffers) the source can fill, by name and shape."""
    own = model.state_dict()
    loaded, missing, mismatched = [], [], []
    for name, tensor in own.items():
        if name not in source:
            missing.append(name)
        elif tuple(source[name].shape) != tuple(tensor.shape):
            mismatched.append((name, tuple(source[name].shape), tuple(tensor.shape)))
        else:
            loaded.append(name)
    unexpected = [name for name in source if name not in own]
    return InitReport(loaded, missing, unexpected, mismatched)


def check(init: InitConfig, source: InitSource, report: InitReport) -> None:
    """Refuse a fine-tune that would load nothing, or (strict) not everything."""
    where = f"{source.run_dir} (step {source.step}, {source.weights} weights)"
    if not report.loaded:
        raise RecipeError(
            [
                f"init.from: none of the {len(source.tensors)} tensors of {where} match the model "
                f"({len(report.missing)} missing, {len(report.mismatched)} of another shape): "
                "is it the same backbone?"
            ]
        )
    if init.strict and (report.missing or report.unexpected or report.mismatched):
        raise RecipeError([f"init.strict: {where}: {line}" for line in report.lines()])


def initialize(model: nn.Module, init: InitConfig) -> dict[str, Any]:
    """Load the matching tensors of ``init``'s source into ``model``; returns the provenance record."""
    source = find_source(init)
    report = match(model, source.tensors)
    check(init, source, report)
    with torch.no_grad():
        own = model.state_dict()
        for name in report.loaded:
            own[name].copy_(source.tensors[name])
    return {
        "from": str(source.run_dir),
        "checkpoint": str(source.checkpoint),
        "step": source.step,
        "weights": source.weights,
        "sha256": source.sha256,
        "loaded": len(report.loaded),
        "missing": report.missing,
        "unexpected": report.unexpected,
        "mismatched": [
            f"{name}: source {list(src)}, model {list(dst)}" for name, src, dst in report.mismatched
        ],
    }


def describe(record: dict[str, Any]) -> list[str]:
    """Lines for the user: where the weights came from and what did not match."""
    total = record["loaded"] + len(record["missing"]) + len(record["mismatched"])
    lines = [
        f"dvcore: init from {record['from']} step {record['step']} ({record['weights']} weights, "
        f"sha256 {record['sha256'][:12]}): {record['loaded']} of {total} model tensors loaded"
    ]
    if record["missing"]:
        lines.append(f"dvcore:   missing in the source (fresh init): {', '.join(record['missing'])}")
    if record["unexpected"]:
        lines.append(f"dvcore:   unexpected (not in the model, ignored): {', '.join(record['unexpected'])}")
    lines += [f"dvcore:   shape mismatch (fresh init): {m}" for m in record["mismatched"]]
    return lines
