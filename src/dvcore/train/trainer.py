"""The training loop, readable top to bottom (``Trainer.fit``, in the manner of nanoGPT's train.py).

One optimizer step is a sequence of named phases:

    _set_lr -> _micro_batches (k forward/backward under autocast) -> _optimizer_step (unscale,
    clip, skip if non-finite, step, EMA) -> _check_diverged -> _log -> _maybe_eval ->
    _maybe_checkpoint -> _maybe_stop (a signal asked for it)

The loop owns the optimizer, LR schedule, GradScaler, EMA, data loader position and RNGs, so a
run stopped at step k and resumed from its checkpoint continues bit-exactly (CPU).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from dvcore.data.pipeline import build_loader
from dvcore.errors import RecipeError, TrainingDiverged, TrainingStopped
from dvcore.recipe import Recipe
from dvcore.seeding import process_seed
from dvcore.tasks.base import EvalResult, Task
from dvcore.track.base import Tracker
from dvcore.train import checkpoint, distributed
from dvcore.train.batches import Head as Head  # evaluation imports it from here
from dvcore.train.batches import to_device
from dvcore.train.distributed import DistInfo
from dvcore.train.ema import EMA
from dvcore.train.optim import build_optimizer, lr_at
from dvcore.train.progress import LogWindow, TrainProgress, peak_memory_mb
from dvcore.train.signals import StopRequest

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class _StopDuringEval(Exception):
    """A stop signal arrived during an evaluation, which is abandoned (not logged)."""


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
        dist_info: DistInfo | None = None,
    ):
        self.recipe, self.cfg, self.task, self.tracker = recipe, recipe.train, task, tracker
        self.device, self.dist = device, dist_info or DistInfo()
        self.run_dir, self.checkpoint_dir = Path(run_dir), Path(run_dir) / "checkpoints"
        cfg = self.cfg

        if device.type == "cuda" and cfg.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True  # float32 matmuls and convs on tensor cores
            torch.backends.cudnn.allow_tf32 = True
        # The model as trained (raw parameters), and the callable used in the step (compiled, DDP).
        self.model = self._prepare_model(model)
        self.params = list(self.model.parameters())  # collected once: walking the module tree is not free
        self.ema = EMA(self.model, cfg.ema.decay, cfg.ema.warmup) if cfg.ema else None
        self.step_model = self._step_model(self.model)

        self.optimizer = build_optimizer(self.model, cfg)
        self.autocast_dtype = AUTOCAST_DTYPES.get(cfg.precision)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")

        splits = task.datasets()
        self.loader = build_loader(
            splits["train"],
            batch_size=cfg.batch_size,
            seed=recipe.seed,
            shuffle=True,
            drop_last=True,
            num_workers=cfg.num_workers,
            prefetch=cfg.prefetch,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            pin_memory=device.type == "cuda",
        )
        steps_per_epoch = len(splits["train"]) // self.dist.world_size // cfg.batch_size // cfg.grad_accum
        self.max_steps = cfg.max_epochs * max(steps_per_epoch, 1) if cfg.max_epochs else cfg.max_steps
        self.eval_set = Head(splits["eval"], recipe.eval.max_samples)
        self.step = 0
        self.skipped_steps = 0
        self.consecutive_bad = 0  # non-finite steps in a row; max_nonfinite of them end the run
        self.progress_enabled = progress and self.dist.is_main
        self.last_eval: EvalResult | None = None
        self._stop: StopRequest | None = None  # while fit() runs: evaluation checks it between batches

    def _prepare_model(self, model: nn.Module) -> nn.Module:
        """On the device, in channels-last memory and with gradient checkpointing when asked."""
        cfg = self.cfg
        model = model.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (torch stub)
        if cfg.grad_checkpointing:
            # The contract: modules that can recompute their activations expose `grad_checkpointing`.
            capable = [m for m in model.modules() if hasattr(m, "grad_checkpointing")]
            if not capable:
                raise RecipeError(
                    [f"train.grad_checkpointing: backbone {self.recipe.model.name!r} does not support it"]
                )
            for module in capable:
                setattr(module, "grad_checkpointing", True)  # noqa: B010  (an attribute nn.Module does not declare)
        return model

    def _step_model(self, model: nn.Module) -> nn.Module:
        """The callable of the training step: the model, wrapped in DDP and compiled when asked."""
        step_model: nn.Module = model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            step_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.cfg.compile:
            step_model = cast(nn.Module, torch.compile(step_model))  # an OptimizedModule
        return step_model

    # ------------------------------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------------------------------

    def fit(self) -> EvalResult:
        """Train to ``max_steps``, then evaluate and checkpoint; returns the final evaluation."""
        self.progress = TrainProgress(
            self.max_steps, start=self.step, every=self.cfg.log_every, enabled=self.progress_enabled
        )
        self._window = LogWindow()
        batches = self._batches()
        try:
            with StopRequest() as stop:
                self._stop = stop
                while self.step < self.max_steps:
                    t_step = time.perf_counter()
                    lr = self._set_lr()
                    loss, extras = self._micro_batches(batches)
                    grad_norm = self._optimizer_step(loss)
                    self.step += 1
                    self._window.steps += 1
                    self._check_diverged()
                    self._log(loss, lr, grad_norm, extras, t_step)
                    self._maybe_eval()
                    self._maybe_checkpoint()
                    self._maybe_stop(stop)
                self.progress.close()
                result = self.evaluate()
                self._maybe_stop(stop, final=True)  # a signal during the final eval: resume evaluates
                self.save_checkpoint()
        finally:
            self._stop = None
            self.progress.close()
        return result

    # -- the phases of one step, in order ---------------------------------------------------------

    def _set_lr(self) -> float:
        lr = lr_at(self.step, self.cfg, self.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _micro_batches(self, batches: Iterator[dict[str, Any]]) -> tuple[torch.Tensor, dict[str, Any]]:
        """Forward and backward over ``grad_accum`` micro-batches; the mean loss and the last extras.

        Under DDP the gradients are synchronised on the last micro-batch only.
        """
        cfg = self.cfg
        self.step_model.train()
        loss_sum = torch.zeros((), device=self.device)
        extras: dict[str, Any] = {}
        for micro in range(cfg.grad_accum):
            batch = to_device(next(batches), self.device, cfg.channels_last)
            last = micro == cfg.grad_accum - 1
            no_sync = self.dist.enabled and not last and hasattr(self.step_model, "no_sync")
            with (
                cast(Any, self.step_model).no_sync() if no_sync else contextlib.nullcontext(),
                self._autocast(),
            ):
                loss, extras = self.task.training_loss(self.step_model, batch)
            self.scaler.scale(loss / cfg.grad_accum).backward()  # type: ignore[no-untyped-call]
            loss_sum += loss.detach().float()
        return loss_sum / cfg.grad_accum, extras

    def _optimizer_step(self, loss: torch.Tensor) -> torch.Tensor:
        """Unscale, clip, then step (and update the EMA) unless the loss or a gradient is not finite.

        Returns the gradient norm before clipping. A skipped step zeroes the gradients and counts
        in ``skipped_steps``; with fp16 the scaler still lowers its scale.
        """
        cfg = self.cfg
        self.scaler.unscale_(self.optimizer)
        max_norm = cfg.clip_grad_norm if cfg.clip_grad_norm is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm)
        # one host-device sync for both checks (with fp16 the scaler skips non-finite grads itself)
        finite_t = (
            torch.isfinite(loss)
            if self.scaler.is_enabled()
            else torch.isfinite(loss) & torch.isfinite(grad_norm)
        )
        finite = bool(finite_t)
        if distributed.any_rank(not finite, self.dist):
            self.skipped_steps += 1
            self.consecutive_bad += 1
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler.is_enabled():
                self.scaler.update()
            return grad_norm
        self.consecutive_bad = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None and cfg.ema is not None and (self.step + 1) % cfg.ema.every == 0:
            self.ema.update(self.model)
        return grad_norm

    def _check_diverged(self) -> None:
        if self.consecutive_bad >= self.cfg.max_nonfinite:
            path = self.save_checkpoint()  # the weights are still the last good ones
            raise TrainingDiverged(
                f"{self.consecutive_bad} consecutive steps with a non-finite loss or gradient "
                f"(the last at step {self.step}); the last good state is in {path}"
            )

    def _log(
        self, loss: torch.Tensor, lr: float, grad_norm: torch.Tensor, extras: dict[str, Any], t_step: float
    ) -> None:
        """Every ``log_every`` steps and at the last: training scalars to the tracker and progress."""
        if not (self.step % self.cfg.log_every == 0 or self.step == self.max_steps):
            return
        now, window = time.perf_counter(), self._window
        samples_per_step = self.cfg.batch_size * self.cfg.grad_accum * self.dist.world_size
        scalars = {
            "loss": loss.item(),
            "lr": lr,
            "grad_norm": grad_norm.item(),
            "samples_per_s": samples_per_step * window.steps / max(now - window.start, 1e-9),
            "step_time_s": now - t_step,
            "peak_memory_mb": peak_memory_mb(self.device),
            "skipped_steps": self.skipped_steps,
        }
        if self.scaler.is_enabled():
            scalars["grad_scale"] = self.scaler.get_scale()
        self.tracker.log_scalars({**scalars, **extras}, self.step, context="train")
        self.progress.update(self.step, scalars["loss"], scalars["samples_per_s"])
        window.start, window.steps = now, 0

    def _maybe_eval(self) -> None:
        every = self.cfg.eval_every
        if every and self.step % every == 0 and self.step < self.max_steps:
            self.evaluate()

    def _maybe_checkpoint(self) -> None:
        every = self.cfg.checkpoint_every
        if every and self.step % every == 0 and self.step < self.max_steps:
            self.save_checkpoint()

    def _maybe_stop(self, stop: StopRequest, final: bool = False) -> None:
        if distributed.any_rank(stop.requested, self.dist) and (final or self.step < self.max_steps):
            path = self.save_checkpoint()
            raise TrainingStopped(self.step, path, stop.signal or 0)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _batches(self) -> Iterator[dict[str, Any]]:
        """Batches forever, epoch after epoch; the loader keeps its own position for checkpoints.

        A pass may be empty once (a position restored at the very end of an epoch); two empty
        passes in a row mean the split gives no batch at all, which would loop for ever.
        """
        empty = 0
        while empty < 2:
            empty += 1
            for batch in self.loader:
                empty = 0
                yield batch
        raise RuntimeError(
            f"the train split gives no batch of {self.cfg.batch_size} (drop_last) in a whole epoch"
        )

    # ------------------------------------------------------------------------------------------
    # Evaluation (rank 0; the others wait)
    # ------------------------------------------------------------------------------------------

    @property
    def eval_model(self) -> nn.Module:
        if self.ema is not None and self.cfg.ema is not None and self.cfg.ema.use_for_eval:
            return self.ema.module
        return self.model

    def evaluate(self) -> EvalResult:
        result = EvalResult({})
        if self.dist.is_main:
            model = self.eval_model
            model.eval()
            eval_loader = build_loader(
                self.eval_set,
                batch_size=self.recipe.eval.batch_size,
                seed=self.recipe.seed,
                shuffle=False,
                drop_last=False,
                num_workers=self.cfg.num_workers,
                prefetch=self.cfg.prefetch,
            )
            try:
                with self._autocast():
                    result = self.task.evaluate(model, self._eval_batches(eval_loader))
            except _StopDuringEval:  # the loop checkpoints and stops right after
                distributed.barrier(self.dist)
                return EvalResult({})
            self.tracker.log_scalars(result.scores, self.step, context="eval")
            corrupt = self.task.summary().get("corrupt_files", {})
            if corrupt:
                self.tracker.log_scalars(
                    {f"corrupt_files/{s}": n for s, n in corrupt.items()}, self.step, "data"
                )
            self.tracker.log_images(result.images, self.step, context="eval")
        distributed.barrier(self.dist)
        self.last_eval = result
        return result

    def _eval_batches(self, loader: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The eval batches on the device; a stop signal ends the evaluation between two batches."""
        for batch in loader:
            if self._stop is not None and self._stop.requested:
                raise _StopDuringEval
            yield to_device(batch, self.device, self.cfg.channels_last)

    # ------------------------------------------------------------------------------------------
    # Checkpoints (rank 0 writes; every rank restores the same one)
    # ------------------------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        path = self.checkpoint_dir / f"step_{self.step:08d}"
        if self.dist.is_main:
            opt_tensors, opt_rest = checkpoint.flatten_optimizer(self.optimizer.state_dict())
            rng_tensors, rng_rest = checkpoint.rng_state()
            state = {
                "step": self.step,
                "skipped_steps": self.skipped_steps,
                "optimizer": opt_rest,
                "scaler": self.scaler.state_dict(),
                "ema_updates": self.ema.num_updates if self.ema else None,
                "loader": self.loader.state_dict(),
                "task": self.task.state_dict(),
                "rng": rng_rest,
                "tracker_run_id": self.tracker.run_id,
            }
            tensors = {"model": self.model.state_dict(), "optimizer": opt_tensors, "rng": rng_tensors}
            if self.ema is not None:
                tensors["ema"] = self.ema.state_dict()
            path = checkpoint.save(
                self.checkpoint_dir, self.step, tensors, state, keep_last=self.cfg.keep_last
            )
        distributed.barrier(self.dist)
        return path

    def restore(self, tensors: dict[str, dict[str, torch.Tensor]], state: dict[str, Any]) -> None:
        self.model.load_state_dict(tensors["model"])
        self.optimizer.load_state_dict(
            checkpoint.unflatten_optimizer(tensors["optimizer"], state["optimizer"])
        )
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if "ema" in tensors:
                self.ema.load_state_dict(tensors["ema"], state.get("ema_updates") or 0)
            else:
                print(
                    "dvcore: warning: checkpoint has no EMA; starting the EMA from the weights",
                    file=sys.stderr,
                )
                self.ema.load_state_dict(tensors["model"], 0)
        self.loader.load_state_dict(state["loader"])
        self.task.load_state_dict(state.get("task", {}))
        checkpoint.set_rng_state(tensors["rng"], state["rng"])
        if self.dist.rank > 0:  # the checkpoint holds rank 0's RNG; the others re-derive theirs
            torch.manual_seed(process_seed(self.recipe.seed, self.dist.rank, state["step"]))
        self.step = state["step"]
        self.skipped_steps = state.get("skipped_steps", 0)
