"""The recipe's schema: fixed sections (``train``, ``eval``, ``init``) and component sections.

A component section (``task``, ``data``, ``model``, ``loss``, ``schedule``, ``sampler``,
``tracker``, ``eval.metrics``) holds ``name = "..."`` plus that component's options, which
``dvcore.recipe.converter`` structures into the component's own options class.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import attrs

from dvcore.options import ge, gt, le, lt, opt, path_component


@attrs.frozen
class Section:
    """A recipe section naming a component: ``name`` plus that component's options."""

    kind: ClassVar[str] = ""
    name: str
    options: Any = None  # an instance of the component's options class; None = defaults


@attrs.frozen
class TaskSection(Section):
    kind: ClassVar[str] = "task"


@attrs.frozen
class DatasetSection(Section):
    kind: ClassVar[str] = "dataset"


@attrs.frozen
class BackboneSection(Section):
    kind: ClassVar[str] = "backbone"


@attrs.frozen
class LossSection(Section):
    kind: ClassVar[str] = "loss"


@attrs.frozen
class ScheduleSection(Section):
    kind: ClassVar[str] = "schedule"


@attrs.frozen
class SamplerSection(Section):
    kind: ClassVar[str] = "sampler"


@attrs.frozen
class MetricSection(Section):
    kind: ClassVar[str] = "metric"


@attrs.frozen
class TrackerSection(Section):
    kind: ClassVar[str] = "tracker"


@attrs.frozen
class EMAConfig:
    """An exponential moving average of the weights, used for eval and sampling."""

    decay: float = opt(0.9999, "EMA decay per update", ge(0), le(1))
    warmup: bool = opt(True, "ramp the decay as min(decay, (1+n)/(10+n)) over the first updates")
    every: int = opt(1, "update the EMA every this many optimizer steps", gt(0))
    use_for_eval: bool = opt(True, "evaluate and sample with the EMA weights")


@attrs.frozen
class TrainConfig:
    """How to optimise. One optimizer step consumes batch_size x grad_accum x (number of processes)
    samples."""

    batch_size: int = opt(16, "samples per micro-batch, per process", gt(0))
    grad_accum: int = opt(1, "micro-batches accumulated into one optimizer step", gt(0))
    max_steps: int = opt(1000, "optimizer steps to train for (unless max_epochs is set)", gt(0))
    max_epochs: int | None = opt(
        None, "when set: train this many epochs of the train split (overrides max_steps)", gt(0)
    )
    optimizer: Literal["adamw", "adam", "sgd"] = opt("adamw", "optimizer")
    optimizer_impl: Literal["auto", "fused", "foreach", "loop"] = opt(
        "auto",
        "optimizer kernels: fused (one kernel per step), foreach (ops over all tensors at once), "
        "loop (per parameter); auto = fused for Adam(W) (CPU and CUDA), else foreach "
        "(benchmarks/results/vs_diffusers.md)",
    )
    tf32: bool = opt(True, "on CUDA: TF32 matmuls and convolutions for float32 (Ampere and newer)")
    lr: float = opt(3e-4, "peak learning rate", gt(0))
    weight_decay: float = opt(0.0, "weight decay (never on norms, biases and other 1-d parameters)", ge(0))
    betas: list[float] = opt(factory=lambda: [0.9, 0.999], doc="Adam(W) betas")
    momentum: float = opt(0.9, "SGD momentum", ge(0), lt(1))
    lr_schedule: Literal["constant", "cosine", "linear"] = opt("cosine", "decay after warmup")
    warmup_steps: int = opt(100, "linear warmup from 0 to lr", ge(0))
    min_lr_ratio: float = opt(0.0, "final lr as a fraction of lr (cosine/linear)", ge(0), le(1))
    clip_grad_norm: float | None = opt(1.0, "clip the global grad norm to this; unset = no clipping", gt(0))
    precision: Literal["fp32", "bf16", "fp16"] = opt(
        "fp32", "autocast dtype (fp16 adds a GradScaler; bf16 works on CPU)"
    )
    ema: EMAConfig | None = opt(None, "[train.ema] section: keep an EMA of the weights; unset = no EMA")
    compile: bool = opt(False, "torch.compile the backbone")
    channels_last: bool = opt(False, "channels_last memory format for the backbone and its inputs")
    grad_checkpointing: bool = opt(False, "activation checkpointing in backbones that support it")
    max_nonfinite: int = opt(10, "stop after this many consecutive steps with a non-finite loss/grad", gt(0))
    log_every: int = opt(10, "steps between logged scalars", gt(0))
    eval_every: int = opt(0, "steps between evaluations; 0 = only at the end", ge(0))
    checkpoint_every: int = opt(0, "steps between checkpoints; 0 = only at the end", ge(0))
    keep_last: int | None = opt(None, "keep only this many newest checkpoints; unset = all", gt(0))
    num_workers: int = opt(2, "threads that produce samples", ge(0))
    prefetch: int = opt(4, "batches prefetched ahead of the step", ge(0))

    def problems(self) -> Iterator[tuple[str, str]]:
        if len(self.betas) != 2:
            yield "betas", f"expected [beta1, beta2], got {self.betas!r}"


@attrs.frozen
class EvalConfig:
    """How to evaluate on the held-out split."""

    batch_size: int = opt(32, "samples per eval batch", gt(0))
    max_samples: int | None = opt(None, "evaluate on at most this many samples; unset = all", gt(0))
    metrics: list[MetricSection] = opt(factory=list, doc="metric components, e.g. ['psnr', 'ssim']")
    baselines: list[str] | None = opt(
        None,
        "baseline components scored beside the model, e.g. ['copy', 'blend', 'flow']; unset = the task's "
        "defaults (interpolate: copy, blend, flow); [] = none",
    )
    num_images: int = opt(8, "samples shown in logged image grids", ge(0))


@attrs.frozen
class InitConfig:
    """Start from another run's weights (fine-tuning): weights only; the optimizer, step and data order start
    fresh.

    Tensors are matched by name and shape; the model's tensors the source lacks keep their
    fresh initialisation. What matched, what did not and where the weights came from is
    reported and written into the run's hparams and summary.json.
    """

    source: str = opt(doc='the source run directory (TOML key "from")')
    checkpoint: int | str = opt("latest", '"latest" or the step of one of the source\'s checkpoints')
    ema: bool = opt(True, "the source's EMA weights when it kept an EMA (else its raw weights)")
    strict: bool = opt(False, "every tensor must match by name and shape (else: exit 2)")

    def problems(self) -> Iterator[tuple[str, str]]:
        if isinstance(self.checkpoint, str) and self.checkpoint != "latest":
            yield "checkpoint", f"expected 'latest' or a step number, got {self.checkpoint!r}"
        if isinstance(self.checkpoint, int) and self.checkpoint < 0:
            yield "checkpoint", f"expected a step >= 0, got {self.checkpoint}"


@attrs.frozen
class Recipe:
    """One run: which components, with which options, trained how."""

    experiment: str = opt(attrs.NOTHING, "experiment name; runs go under runs/<experiment>/", path_component)
    task: TaskSection = opt(doc="what is learned (interpolate, generate)")
    data: DatasetSection = opt(doc="dataset component")
    model: BackboneSection = opt(doc="backbone component")
    loss: LossSection = opt(LossSection("pixel"), "loss component")
    schedule: ScheduleSection | None = opt(
        None, "noise schedule (diffusion tasks; unset = the task's default)"
    )
    sampler: SamplerSection | None = opt(None, "sampler used for eval and sampling (diffusion tasks)")
    seed: int = opt(0, "seed for weights, data order and noise", ge(0), lt(2**32))
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto = cuda when available")
    run_name: str | None = opt(None, "run directory name; unset = timestamp", path_component)
    runs_root: str = opt("runs", "where run directories are created")
    train: TrainConfig = opt(factory=TrainConfig, doc="optimisation")
    eval: EvalConfig = opt(factory=EvalConfig, doc="evaluation")
    tracker: TrackerSection = opt(TrackerSection("aim"), "experiment tracker (aim, none)")
    init: InitConfig | None = opt(None, "[init] section: start from another run's weights (fine-tuning)")
    description: str | None = opt(
        None, "what the run is for (unset = the recipe file's header comment)", multiline=True
    )
    tags: list[str] = opt(factory=list, doc="labels for the tracker; a sweep adds its name and varied keys")
