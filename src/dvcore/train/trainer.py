"""The training loop, readable top to bottom.

One step: batch -> forward -> loss -> backward -> clip -> optimizer step -> log ->
maybe eval -> maybe checkpoint. The loop owns the optimizer, the LR schedule,
the data loader position and the RNGs, so a run stopped at step k and resumed
from its checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dvcore.data.pipeline import build_loader
from dvcore.recipe import Recipe
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.base import Tracker
from dvcore.train import checkpoint
from dvcore.train.optim import build_optimizer, lr_at
from dvcore.train.progress import TrainProgress


class Head(Sequence):
    """The first ``n`` samples of a dataset."""

    def __init__(self, dataset: Sequence, n: int | None):
        self.dataset, self.n = dataset, len(dataset) if n is None else min(n, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.dataset[i]


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
    }


class Trainer:
    def __init__(
        self,
        recipe: Recipe,
        task: Task,
        model: nn.Module,
        *,
        run_dir: Path,
        tracker: Tracker,
        device: torch.device,
        progress: bool = True,
    ):
        self.recipe, self.cfg, self.task = recipe, recipe.train, task
        self.model, self.device, self.tracker = model.to(device), device, tracker
        self.run_dir, self.checkpoint_dir = Path(run_dir), Path(run_dir) / "checkpoints"
        self.optimizer = build_optimizer(self.model, self.cfg)
        splits = task.datasets()
        self.loader = build_loader(
            splits["train"],
            batch_size=self.cfg.batch_size,
            seed=recipe.seed,
            shuffle=True,
            drop_last=True,
            num_workers=self.cfg.num_workers,
            prefetch=self.cfg.prefetch,
            pin_memory=device.type == "cuda",
        )
        self.eval_set = Head(splits["eval"], recipe.eval.max_samples)
        self.step = 0
        self.progress_enabled = progress
        self.last_eval: EvalResult | None = None

    # ------------------------------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------------------------------

    def fit(self) -> EvalResult:
        cfg = self.cfg
        progress = TrainProgress(
            cfg.max_steps, start=self.step, every=cfg.log_every, enabled=self.progress_enabled
        )
        batches = self._batches()
        t_last, samples_since = time.perf_counter(), 0
        try:
            while self.step < cfg.max_steps:
                batch = to_device(next(batches), self.device)
                lr = lr_at(self.step, cfg)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr

                self.model.train()
                loss, extras = self.task.training_loss(self.model, batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                max_norm = cfg.clip_grad_norm if cfg.clip_grad_norm is not None else float("inf")
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
                self.optimizer.step()
                self.step += 1
                samples_since += cfg.batch_size

                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    elapsed = time.perf_counter() - t_last
                    throughput = samples_since / max(elapsed, 1e-9)
                    scalars = {
                        "loss": loss.item(),
                        "lr": lr,
                        "grad_norm": grad_norm.item(),
                        "samples_per_s": throughput,
                    }
                    self.tracker.log_scalars({**scalars, **extras}, self.step, context="train")
                    progress.update(self.step, scalars["loss"], throughput)
                    t_last, samples_since = time.perf_counter(), 0
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
                    self.evaluate()
                if (
                    cfg.checkpoint_every
                    and self.step % cfg.checkpoint_every == 0
                    and self.step < cfg.max_steps
                ):
                    self.save_checkpoint()
        finally:
            progress.close()
        result = self.evaluate()
        self.save_checkpoint()
        return result

    def _batches(self) -> Iterator[dict[str, Any]]:
        """Batches forever, epoch after epoch; the loader keeps its own position for checkpoints."""
        while True:
            yield from self.loader

    # ------------------------------------------------------------------------------------------
    # Evaluation
    # ------------------------------------------------------------------------------------------

    def evaluate(self) -> EvalResult:
        self.model.eval()
        eval_loader = build_loader(
            self.eval_set,
            batch_size=self.recipe.eval.batch_size,
            seed=self.recipe.seed,
            shuffle=False,
            drop_last=False,
            num_workers=self.cfg.num_workers,
            prefetch=self.cfg.prefetch,
        )
        result = self.task.evaluate(self.model, (to_device(b, self.device) for b in eval_loader))
        self.tracker.log_scalars(result.scores, self.step, context="eval")
        self.tracker.log_images(result.images, self.step, context="eval")
        self.last_eval = result
        return result

    # ------------------------------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        opt_tensors, opt_rest = checkpoint.flatten_optimizer(self.optimizer.state_dict())
        rng_tensors, rng_rest = checkpoint.rng_state()
        state = {
            "step": self.step,
            "optimizer": opt_rest,
            "loader": self.loader.state_dict(),
            "rng": rng_rest,
            "tracker_run_id": self.tracker.run_id,
        }
        tensors = {"model": self.model.state_dict(), "optimizer": opt_tensors, "rng": rng_tensors}
        return checkpoint.save(self.checkpoint_dir, self.step, tensors, state)

    def restore(self, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any]) -> None:
        self.model.load_state_dict(tensors["model"])
        self.optimizer.load_state_dict(
            checkpoint.unflatten_optimizer(tensors["optimizer"], state["optimizer"])
        )
        self.loader.load_state_dict(state["loader"])
        checkpoint.set_rng_state(tensors["rng"], state["rng"])
        self.step = state["step"]
