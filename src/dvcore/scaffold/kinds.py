"""What ``dvcore plugin new`` writes for each kind: a working minimal component, its options and its tests.

Each template is a ``string.Template`` over ``$package`` (the import name), ``$component`` (the
registered name), ``$Class`` (CamelCase of the component) and ``$kind``. The code imports from
``dvcore.api`` and ``dvcore.testing`` only, like every shipped plugin.
"""

from __future__ import annotations

from typing import NamedTuple


class KindTemplate(NamedTuple):
    module: str  # file name of the implementation, under src/<package>/
    summary: str  # one line for the README and the registration doc
    options: str  # options.py
    code: str  # the implementation
    imports: str  # what plugin.py imports from the implementation
    factory: str  # the factory's name
    tests: str  # tests/test_<component>.py
    recipe: str  # the recipe lines that use the component


def _options_head(*names: str) -> str:
    return f'''"""Options of $component: the fields of its recipe section, typed, defaulted, documented, validated."""

from __future__ import annotations

import attrs

from dvcore.api import {", ".join(names)}
'''


BACKBONE = KindTemplate(
    module="model.py",
    summary="a small residual conv net conditioned on t (a backbone)",
    options=_options_head("ge", "gt", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [model] section when name = "$component"."""

    width: int = opt(32, "hidden channels", gt(0))
    depth: int = opt(2, "residual 3x3 conv layers", ge(1))
''',
    code='''"""$Class: a residual conv net; t enters as a per-channel shift (replace with your network)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dvcore.api import TimestepEmbedder

from $package.options import ${Class}Options


class $Class(nn.Module):
    """conv in, ``depth`` residual convs shifted by the embedding of t, conv out."""

    def __init__(self, options: ${Class}Options, in_channels: int, out_channels: int):
        super().__init__()
        w = options.width
        self.conv_in = nn.Conv2d(in_channels, w, 3, padding=1)
        self.time = TimestepEmbedder(w)
        self.blocks = nn.ModuleList(nn.Conv2d(w, w, 3, padding=1) for _ in range(options.depth))
        self.conv_out = nn.Conv2d(w, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)  # (B, W, H, W)
        shift = self.time(t).to(h.dtype)[:, :, None, None]  # (B, W, 1, 1)
        for conv in self.blocks:
            h = h + conv(F.silu(h + shift))  # (B, W, H, W)
        return self.conv_out(F.silu(h))  # (B, C_out, H, W)


def build_$component(options: ${Class}Options, *, in_channels: int, out_channels: int) -> $Class:
    """A residual conv net conditioned on t."""
    return $Class(options, in_channels, out_channels)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's backbone contract (dvcore.testing), as registered through its entry point."""

from __future__ import annotations

import pytest
import torch

from dvcore.testing import check_component

from $package.model import build_$component
from $package.options import ${Class}Options


@pytest.mark.parametrize(("in_channels", "out_channels"), [(12, 3), (3, 3)], ids=["interpolate", "generate"])
def test_${component}_meets_the_backbone_contract(in_channels: int, out_channels: int):
    options = ${Class}Options(width=8)
    check_component("backbone", "$component", options, in_channels=in_channels, out_channels=out_channels)


def test_${component}_keeps_the_image_size():
    model = build_$component(${Class}Options(width=8, depth=1), in_channels=3, out_channels=3)
    assert model(torch.zeros(1, 3, 24, 40), torch.zeros(1)).shape == (1, 3, 24, 40)
''',
    recipe='[model]\nname = "$component"\nwidth = 32',
)

DATASET = KindTemplate(
    module="data.py",
    summary="clips of a coloured blob moving in a straight line (a dataset)",
    options=_options_head("ge", "gt", "odd", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [data] section when name = "$component"."""

    size: int = opt(32, "frame height and width in pixels", gt(0))
    num_frames: int = opt(5, "frames per clip (odd: interpolation predicts the middle one)", ge(3), odd)
    radius: float = opt(4.0, "blob radius in pixels", gt(0))
    num_train: int = opt(1000, "clips in the train split", ge(1))
    num_eval: int = opt(64, "clips in the eval split", ge(1))
''',
    code='''"""$Class: synthetic clips, each a pure function of (seed, split, index) (replace with your data)."""

from __future__ import annotations

import torch

from $package.options import ${Class}Options


class ${Class}Dataset:
    """A map-style dataset: ``dataset[i] = {"frames": (N, 3, H, W) float32 in [0, 1]}``."""

    def __init__(self, options: ${Class}Options, split: str, seed: int):
        self.options, self.seed = options, seed
        self.count = options.num_train if split == "train" else options.num_eval
        self.offset = 0 if split == "train" else options.num_train  # eval clips are never train clips

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        o = self.options
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.offset + index)
        start = torch.rand(2, generator=g) * o.size  # (2,) y, x
        velocity = (torch.rand(2, generator=g) - 0.5) * 4  # (2,) pixels per frame
        colour = torch.rand(3, 1, 1, generator=g)  # (3, 1, 1)
        ys, xs = torch.meshgrid(torch.arange(o.size), torch.arange(o.size), indexing="ij")  # (H, W) x2
        frames = []
        for k in range(o.num_frames):
            cy, cx = (start + k * velocity).tolist()
            blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * o.radius**2))  # (H, W)
            frames.append(colour * blob)  # (3, H, W)
        return {"frames": torch.stack(frames).float()}  # (N, 3, H, W)


def build_$component(options: ${Class}Options, *, split: str, seed: int) -> ${Class}Dataset:
    """Clips of a coloured blob moving in a straight line."""
    return ${Class}Dataset(options, split, seed)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's dataset contract (dvcore.testing), as registered through its entry point."""

from __future__ import annotations

from dvcore.testing import check_component

from $package.data import build_$component
from $package.options import ${Class}Options


def test_${component}_meets_the_dataset_contract():
    check_component("dataset", "$component", ${Class}Options(size=16, num_train=8, num_eval=4))


def test_${component}_clips_have_the_asked_shape():
    clip = build_$component(${Class}Options(size=16, num_frames=3), split="eval", seed=0)[0]["frames"]
    assert clip.shape == (3, 3, 16, 16)
''',
    recipe='[data]\nname = "$component"\nsize = 32\nnum_frames = 5',
)

METRIC = KindTemplate(
    module="metric.py",
    summary="mean absolute error per image, averaged over images (a metric)",
    options=_options_head("gt", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """Options of the $component metric (``[[eval.metrics]] name = "$component"``)."""

    scale: float = opt(1.0, "multiply the error by this (255 = in 8-bit levels)", gt(0))
''',
    code='''"""$Class: the mean absolute error of each image, averaged over images (replace with your metric)."""

from __future__ import annotations

import torch

from dvcore.api import MeanMetric

from $package.options import ${Class}Options


class $Class(MeanMetric):
    """Mean |pred - target| per image; lower is better."""

    name = "$component"  # scores are reported as "<predictor>/$component"
    higher_is_better = False

    def __init__(self, options: ${Class}Options):
        self.options = options
        super().__init__()

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = (pred.double() - target.double()).abs()  # (B, C, H, W)
        return self.options.scale * error.flatten(1).mean(dim=1)  # (B,)


def build_$component(options: ${Class}Options) -> $Class:
    """Mean absolute error per image, averaged over images."""
    return $Class(options)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's metric contract (dvcore.testing), and agrees with a direct computation."""

from __future__ import annotations

import torch

from dvcore.testing import check_component

from $package.metric import build_$component
from $package.options import ${Class}Options


def test_${component}_meets_the_metric_contract():
    check_component("metric", "$component")


def test_${component}_is_the_mean_absolute_error():
    pred, target = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.25)
    metric = build_$component(${Class}Options(scale=2.0))
    metric.update(pred, target)
    assert metric.compute() == 0.5
''',
    recipe='[eval]\nmetrics = ["$component"]',
)

SAMPLER = KindTemplate(
    module="sampler.py",
    summary="deterministic DDIM-style steps over spaced timesteps (a sampler)",
    options='''"""Options of $component: the fields of its recipe section, typed, defaulted, documented, validated."""

from __future__ import annotations

from typing import Literal

import attrs

from dvcore.api import (
    clip_sample_field,
    clip_sample_range_field,
    opt,
    thresholding_field,
    thresholding_max_field,
    thresholding_ratio_field,
)


@attrs.frozen
class ${Class}Options:
    """The recipe's [sampler] section when name = "$component"."""

    timestep_spacing: Literal["linspace", "leading", "trailing"] = opt(
        "trailing", "how sampling steps are placed among the training steps"
    )
    # The predicted-x0 processing every sampler has (the base class applies it).
    clip_sample: bool = clip_sample_field(False)
    clip_sample_range: float = clip_sample_range_field()
    thresholding: bool = thresholding_field()
    thresholding_ratio: float = thresholding_ratio_field()
    thresholding_max: float | None = thresholding_max_field()
''',
    code='''"""$Class: the deterministic DDIM update (Song et al. 2021, eq. 12 with eta = 0) (replace with yours).

The base class checks the inputs, converts the model's eps / x0 / v output (``denoise``),
clips x0 and records the trajectory; a sampler writes its grid and its update loop.
"""

from __future__ import annotations

import math

import torch

from dvcore.api import Denoiser, Grid, SamplerBase, Schedule, spaced_timesteps

from $package.options import ${Class}Options


class ${Class}Sampler(SamplerBase):
    """x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev) eps, from the noisiest step to alpha_bar = 1."""

    name = "$component"
    options: ${Class}Options

    def grid(self, schedule: Schedule, num_steps: int) -> Grid:
        steps = spaced_timesteps(schedule.num_train_timesteps, num_steps, self.options.timestep_spacing)
        alpha_bar = schedule.alphas_cumprod.tolist()  # by training step
        return Grid(torch.from_numpy(steps), [*(alpha_bar[int(t)] for t in steps), 1.0])

    def loop(self, denoise: Denoiser, x: torch.Tensor, grid: Grid, generator: torch.Generator | None) -> torch.Tensor:
        for i in range(len(grid)):
            pred = denoise(x, i)  # x0 and eps at sampling step i
            ab_prev = grid.alphas_cumprod[i + 1]
            x = math.sqrt(ab_prev) * pred.x0 + math.sqrt(1 - ab_prev) * pred.eps  # (B, C, H, W)
        return x


def build_$component(options: ${Class}Options) -> ${Class}Sampler:
    """Deterministic DDIM-style sampling."""
    return ${Class}Sampler(options)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's sampler contract (dvcore.testing), as registered through its entry point."""

from __future__ import annotations

import pytest

from dvcore.testing import check_component

from $package.options import ${Class}Options


@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
def test_${component}_meets_the_sampler_contract(spacing: str):
    check_component("sampler", "$component", ${Class}Options(timestep_spacing=spacing))
''',
    recipe='[sampler]\nname = "$component"',
)

SCHEDULE = KindTemplate(
    module="schedule.py",
    summary="betas spaced geometrically between two values (a noise schedule)",
    options=_options_head("ge", "gt", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [schedule] section when name = "$component"."""

    num_train_timesteps: int = opt(1000, "T, the number of training steps", ge(2))
    beta_start: float = opt(1e-4, "beta of the first training step", gt(0))
    beta_end: float = opt(0.02, "beta of the last training step", gt(0))

    def problems(self):
        """Checks across fields: (field, message) pairs; never raises."""
        if self.beta_end > 1:
            yield "beta_end", f"expected <= 1, got {self.beta_end}"
        if self.beta_end < self.beta_start:
            yield "beta_end", f"expected >= beta_start ({self.beta_start}), got {self.beta_end}"
''',
    code='''"""$Class: betas spaced geometrically from beta_start to beta_end (replace with your schedule)."""

from __future__ import annotations

import math

import torch

from dvcore.api import BetaSchedule

from $package.options import ${Class}Options


def build_$component(options: ${Class}Options) -> BetaSchedule:
    """Geometric betas; BetaSchedule derives alpha_bar, SNR, sigmas and add_noise from them."""
    o = options
    log_betas = torch.linspace(math.log(o.beta_start), math.log(o.beta_end), o.num_train_timesteps, dtype=torch.float64)
    return BetaSchedule(log_betas.exp(), name="$component")  # (T,) by training step
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's schedule contract (dvcore.testing), as registered through its entry point."""

from __future__ import annotations

import math

from dvcore.testing import check_component

from $package.options import ${Class}Options
from $package.schedule import build_$component


def test_${component}_meets_the_schedule_contract():
    check_component("schedule", "$component")


def test_${component}_betas_are_geometric():
    betas = build_$component(${Class}Options(num_train_timesteps=3, beta_start=1e-4, beta_end=1e-2)).betas
    assert math.isclose(float(betas[1]), 1e-3, rel_tol=1e-9)
''',
    recipe='[schedule]\nname = "$component"',
)

LOSS = KindTemplate(
    module="loss.py",
    summary="log-cosh distance between prediction and target (a regression loss)",
    options=_options_head("gt", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [loss] section when name = "$component"."""

    scale: float = opt(0.1, "errors well below this are squared, well above it absolute", gt(0))
''',
    code='''"""$Class: log cosh of the error, quadratic for small errors and linear for large ones (replace with yours)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from $package.options import ${Class}Options


class ${Class}Loss:
    """``loss(pred, target)`` -> scalar; ``kind = "regression"`` tells tasks which call it takes."""

    kind = "regression"

    def __init__(self, options: ${Class}Options):
        self.options = options

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        s = self.options.scale
        err = (pred - target) / s  # (B, C, H, W)
        log_cosh = err + F.softplus(-2 * err) - math.log(2)  # log(cosh(err)), stable for large |err|
        return s**2 * log_cosh.mean()


def build_$component(options: ${Class}Options) -> ${Class}Loss:
    """Log-cosh distance between prediction and target."""
    return ${Class}Loss(options)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's loss contract (dvcore.testing), and is log cosh."""

from __future__ import annotations

import math

import torch

from dvcore.testing import check_component

from $package.loss import build_$component
from $package.options import ${Class}Options


def test_${component}_meets_the_loss_contract():
    check_component("loss", "$component")


def test_${component}_is_log_cosh():
    loss = build_$component(${Class}Options(scale=1.0))
    assert math.isclose(float(loss(torch.full((1, 1, 1, 1), 2.0), torch.zeros(1, 1, 1, 1))), math.log(math.cosh(2.0)), rel_tol=1e-6)
''',
    recipe='[loss]\nname = "$component"',
)

TRACKER = KindTemplate(
    module="tracker.py",
    summary="scalars appended to a JSON-lines file in the run directory (a tracker)",
    options=_options_head("opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [tracker] section when name = "$component"."""

    filename: str = opt("scalars.jsonl", "file in the run directory the scalars are appended to")

    def problems(self):
        """Checks across fields: (field, message) pairs; never raises."""
        if not self.filename or "/" in self.filename:
            yield "filename", f"expected a plain file name, got {self.filename!r}"
''',
    code='''"""$Class: one JSON line per logged scalar, in the run directory (replace with your tracker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dvcore.api import RunInfo, TrackerBase

from $package.options import ${Class}Options


class ${Class}Tracker(TrackerBase):
    """Appends {"step", "context", "name", "value"} lines; images and files are not recorded."""

    def __init__(self, options: ${Class}Options, run: RunInfo):
        self.path = Path(run.directory) / options.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run.resume_id or run.name  # a resumed run appends to the same file

    def log_hparams(self, hparams: dict[str, Any]) -> None:
        self._write({"hparams": hparams})

    def log_scalars(self, values: dict[str, float], step: int, context: str = "train") -> None:
        for name, value in values.items():
            self._write({"step": step, "context": context, "name": name, "value": float(value)})

    def log_images(self, images: dict[str, torch.Tensor], step: int, context: str = "eval") -> None:
        pass  # a JSON-lines file holds no images

    def _write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=str) + "\\n")


def build_$component(options: ${Class}Options, *, run: RunInfo) -> ${Class}Tracker:
    """Scalars appended to a JSON-lines file in the run directory."""
    return ${Class}Tracker(options, run)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's tracker contract (dvcore.testing), and writes what it is given."""

from __future__ import annotations

import json
from pathlib import Path

from dvcore.testing import check_component


def test_${component}_meets_the_tracker_contract(tmp_path: Path):
    check_component("tracker", "$component", directory=tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "run-1" / "scalars.jsonl").read_text().splitlines()]
    assert {"step": 1, "context": "eval", "name": "model/psnr", "value": 30.0} in lines
''',
    recipe='[tracker]\nname = "$component"',
)

TASK = KindTemplate(
    module="task.py",
    summary="denoising: the model restores an image from a noisy copy (a task)",
    options=_options_head("gt", "opt")
    + '''

@attrs.frozen
class ${Class}Options:
    """The recipe's [task] section when name = "$component"."""

    noise_std: float = opt(0.1, "std of the Gaussian noise added to the clean image", gt(0))
''',
    code='''"""$Class: a regression task; the model sees a noisy image (t = 0) and predicts the clean one.

The task builds its data, loss and metrics from the recipe through the registry, decides the
backbone's channels from its data, and scores the model beside the noisy input itself (a
baseline) as "<predictor>/<metric>". Replace the noise with your degradation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from dvcore.api import EvalResult, RecipeError, TaskBase

from $package.options import ${Class}Options


def clean_images(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The images of a batch: "image" (B, C, H, W), or the middle frame of "frames" (B, N, C, H, W)."""
    if "image" in batch:
        return batch["image"]
    frames = batch["frames"]
    return frames[:, frames.shape[1] // 2]  # (B, C, H, W)


class ${Class}Task(TaskBase):
    def __init__(self, options: ${Class}Options, *, recipe: Any, registry: Any):
        self.options, self.seed, self.step = options, recipe.seed, 0
        data = registry.get("dataset", recipe.data.name)
        self._datasets = {s: data.build(recipe.data.options, split=s, seed=recipe.seed) for s in ("train", "eval")}
        sample = self._datasets["train"][0]
        problems = []
        if "image" not in sample and "frames" not in sample:
            problems.append(f"data.name: {recipe.data.name!r} gives neither images nor clips")
        self.loss = registry.get("loss", recipe.loss.name).build(recipe.loss.options)
        if getattr(self.loss, "kind", None) != "regression":
            problems.append(f"loss.name: expected a regression loss for task $component, got {recipe.loss.name!r}")
        if problems:
            raise RecipeError(problems)
        self.metrics = [(m.name, registry.get("metric", m.name), m.options) for m in recipe.eval.metrics]
        self.image_channels = clean_images({k: v[None] for k, v in sample.items()}).shape[1]

    def channels(self) -> tuple[int, int]:
        return self.image_channels, self.image_channels

    def datasets(self) -> dict[str, Any]:
        return self._datasets

    def noisy(self, clean: torch.Tensor, seed: int) -> torch.Tensor:
        g = torch.Generator(device=clean.device).manual_seed(seed)
        noise = torch.randn(clean.shape, generator=g, device=clean.device, dtype=clean.dtype)
        return clean + self.options.noise_std * noise  # (B, C, H, W)

    def training_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        clean = clean_images(batch)  # (B, C, H, W)
        noisy = self.noisy(clean, self.seed * 1_000_003 + self.step)
        self.step += 1
        pred = model(noisy, torch.zeros(clean.shape[0], device=clean.device))  # regression: t = 0
        return self.loss(pred, clean), {}

    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> EvalResult:
        scored = {p: [(n, c.build(o)) for n, c, o in self.metrics] for p in ("model", "noisy")}
        device = next(model.parameters()).device
        for i, batch in enumerate(batches):
            clean = clean_images(batch).to(device)
            noisy = self.noisy(clean, -1 - i)  # fixed eval noise, apart from the training stream
            with torch.no_grad():
                pred = model(noisy, torch.zeros(clean.shape[0], device=device)).float()
            for predictor, images in (("model", pred), ("noisy", noisy)):
                for _, metric in scored[predictor]:
                    metric.update(images.clamp(0, 1), clean)
        return EvalResult({f"{p}/{n}": m.compute() for p, ms in scored.items() for n, m in ms})

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}  # the training noise is a function of (seed, step): resume is exact

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))


def build_$component(options: ${Class}Options, *, recipe: Any, registry: Any) -> ${Class}Task:
    """Denoising: restore an image from a noisy copy."""
    return ${Class}Task(options, recipe=recipe, registry=registry)
''',
    imports="build_$component",
    factory="build_$component",
    tests='''"""$component meets dvcore's task contract (dvcore.testing) on a tiny recipe."""

from __future__ import annotations

from pathlib import Path

from dvcore.testing import check_task, kit_registry

RECIPE = """
experiment = "$component-test"
seed = 0
device = "cpu"
runs_root = "RUNS"

[task]
name = "$component"

[data]
name = "moving_shapes"
size = 16
num_train = 8
num_eval = 4

[model]
name = "kit_tiny"  # the conformance kit's tiny backbone

[loss]
name = "pixel"

[tracker]
name = "none"
"""


def test_${component}_meets_the_task_contract(tmp_path: Path):
    check_task(RECIPE.replace("RUNS", str(tmp_path)), registry=kit_registry())
''',
    recipe='[task]\nname = "$component"\nnoise_std = 0.1',
)

KINDS: dict[str, KindTemplate] = {
    "backbone": BACKBONE,
    "dataset": DATASET,
    "metric": METRIC,
    "sampler": SAMPLER,
    "schedule": SCHEDULE,
    "loss": LOSS,
    "tracker": TRACKER,
    "task": TASK,
}
