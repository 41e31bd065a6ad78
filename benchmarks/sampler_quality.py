"""Sampling quality per model evaluation: which sampler reaches DDIM-50's quality in the fewest steps.

    dvcore run recipes/digits_ddpm.toml --run-dir /tmp/digits      # a trained digits model
    .venv/bin/python benchmarks/sampler_quality.py /tmp/digits

Quality is a Fréchet distance (FD, Heusel et al. 2017, eq. 6) between generated and real
digits in the feature space of a small CNN classifier trained here on the run's train split
(scikit-learn's digits at the run's image size, seed 0): its 64-d penultimate layer. The real
reference is the held-out eval split (the digits the diffusion model never saw); FD against
the train split is reported too. ``--num`` real train digits are scored the same way (biased:
the feature network was trained on them).
Every sampler draws the same ``--num`` images from the same noise (one CPU generator per image,
seeded by (seed, i)), for each of ``--seeds`` noise sets; the model evaluations (NFE) are
counted by wrapping the model, not assumed. The samplers run with their shipped default
options (``dvcore plugins``).

Written: benchmarks/results/sampler_quality.md (tables, answer) and sampler_quality.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench import Session, command_line, header, machine, row, write_report  # a sibling module
from torch import nn

from dvcore.inference import load_run
from dvcore.plugins import registry as default_registry

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLERS = ("ddim", "dpmsolver++", "euler", "heun")
STEPS = (5, 10, 20, 50)


# ----------------------------------------------------------------------------------------------
# The feature network: a small CNN trained on the real digits
# ----------------------------------------------------------------------------------------------


class DigitFeatures(nn.Module):
    """conv-pool x2 -> 64-d features -> 10 classes; input (B, 1, S, S) in [0, 1], S in {8, 16, 32}."""

    def __init__(self, size: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (size // 4) ** 2, 64), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(64, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x[:, :1])  # (B, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10)


def train_classifier(train: Any, eval_: Any, size: int, epochs: int = 20) -> tuple[DigitFeatures, float]:
    """The feature CNN, trained on the train split (seed 0); returns it and its eval-split accuracy."""
    torch.manual_seed(0)
    net = DigitFeatures(size)
    x, y = train.images[:, :1], train.labels  # (N, 1, S, S), (N,)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = float((net(eval_.images[:, :1]).argmax(1) == eval_.labels).float().mean())
    return net, accuracy


def statistics_of(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    f = features.double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))  (Heusel et al. 2017, eq. 6), by the
    metrics plugin's FID code (exact on the rank-deficient covariances ReLU features give)."""
    from dvcore_metrics.fid import frechet_distance as fd

    return fd(a[0], a[1], b[0], b[1])


# ----------------------------------------------------------------------------------------------
# Sampling with a counted model
# ----------------------------------------------------------------------------------------------


class Counted(nn.Module):
    """The model, counting its evaluations (one per sample of a batch call: NFE per image = calls)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.model(x, t)


def sample_features(
    run: Any, model: Counted, classifier: DigitFeatures, sampler: Any, steps: int, seed: int, args: Any
) -> tuple[torch.Tensor, int, float]:
    """Features of ``args.num`` samples from noise set ``seed``; NFE per image; CPU seconds."""
    images, model.calls, started = [], 0, time.process_time()
    for start in range(0, args.num, args.batch):
        gens = [
            torch.Generator().manual_seed(seed * 10**6 + i)
            for i in range(start, min(start + args.batch, args.num))
        ]
        with torch.no_grad():
            out = run.task.sample(model, len(gens), generator=gens, sampler=sampler, num_steps=steps)
        images.append(out.images)
    cpu = time.process_time() - started
    with torch.no_grad():
        return classifier.features(torch.cat(images)), model.calls // len(images), cpu


def diffusers_ddim_gap(run: Any, ddim: Any, steps: int = 50, num: int = 16) -> float:
    """Largest difference (in [0, 1]) between dvcore's DDIM and diffusers' DDIMScheduler driving this
    trained model from the same noise: the check benchmarks/results/vs_diffusers.md refers to."""
    from diffusers import DDIMScheduler

    rd, o = run.task.diffusion, ddim.options
    scheduler = DDIMScheduler(
        num_train_timesteps=rd.schedule.num_train_timesteps, trained_betas=rd.schedule.betas.tolist(),
        timestep_spacing=o.timestep_spacing, clip_sample=o.clip_sample, set_alpha_to_one=o.set_alpha_to_one,
        prediction_type={"eps": "epsilon", "x0": "sample", "v": "v_prediction"}[rd.prediction_type],
    )  # fmt: skip
    scheduler.set_timesteps(steps)
    noise = torch.randn((num, *run.task.image_shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = ddim.sample(run.model, noise, rd.schedule, num_steps=steps, prediction_type=rd.prediction_type)
        x = noise
        for t in scheduler.timesteps:
            x = scheduler.step(run.model(x, t.float().expand(num)), t, x, eta=0.0).prev_sample
    return float((ours.x0 - x).abs().max()) / 2  # [-1, 1] -> [0, 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--num", type=int, default=500, help="images per sampler and step count")
    parser.add_argument("--seeds", type=int, default=2, help="noise sets (the spread)")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    parser.add_argument("--steps", nargs="+", type=int, default=list(STEPS))
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "sampler_quality.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    session = Session()
    registry = default_registry()
    run = load_run(args.run_dir, registry)
    data = registry.get("dataset", run.recipe.data.name)  # a loaded run offers no train split: build both
    splits = {
        s: data.build(run.recipe.data.options, split=s, seed=run.recipe.seed) for s in ("train", "eval")
    }
    size = run.task.image_shape[-1]
    classifier, accuracy = train_classifier(splits["train"], splits["eval"], size)
    with torch.no_grad():
        train_features = classifier.features(splits["train"].images)
        refs = {
            "held-out": statistics_of(classifier.features(splits["eval"].images)),
            "train": statistics_of(train_features),
        }
    # args.num real train digits against the held-out split: what a perfect model would score
    g = torch.Generator().manual_seed(0)
    subsets = [torch.randperm(len(train_features), generator=g)[: args.num] for _ in range(args.seeds)]
    floor = [frechet_distance(statistics_of(train_features[i]), refs["held-out"]) for i in subsets]

    model = Counted(run.model)
    fd: dict[str, dict[tuple[str, int], list[float]]] = {ref: {} for ref in refs}
    nfe: dict[tuple[str, int], int] = {}
    cpu: dict[tuple[str, int], float] = {}
    for name in args.samplers:
        sampler = registry.get("sampler", name).build()
        for steps in args.steps:
            reference = name == "ddim" and steps == 50
            for seed in range(max(args.seeds, 2) if reference else args.seeds):  # DDIM-50's own spread
                feats, nfe[name, steps], seconds = sample_features(
                    run, model, classifier, sampler, steps, seed, args
                )
                cpu[name, steps] = cpu.get((name, steps), 0.0) + seconds
                for ref, stats in refs.items():
                    fd[ref].setdefault((name, steps), []).append(
                        frechet_distance(statistics_of(feats), stats)
                    )
            print(
                f"{name} {steps} steps: NFE {nfe[name, steps]}, FD {fd['held-out'][name, steps]}",
                file=sys.stderr,
                flush=True,
            )

    answers = {ref: answer(fd[ref], nfe) for ref in refs}
    gap = diffusers_ddim_gap(run, registry.get("sampler", "ddim").build())
    rd = run.task.diffusion
    lines = [
        "# Sampling quality per model evaluation (digits)",
        "",
        f"Command: `{command_line('sampler_quality.py', argv)}`",
        "",
        *machine(torch.device("cpu"), args.threads),
        *session.lines(),
        f"- run: {args.run_dir} (recipe {run.recipe.experiment}, step {run.step}, {run.weights} weights, "
        f"{size}x{size}, prediction {rd.prediction_type}, schedule {rd.schedule.name})",
        f"- feature network: a 2-conv CNN trained here on the {len(splits['train'])} train digits "
        f"(seed 0), held-out accuracy {accuracy:.1%}; FD in its 64-d penultimate features",
        f"- {args.num} images per cell, {args.seeds} noise sets (the same noise for every sampler; DDIM-50 "
        "on at least 2, which gives the target's spread); FD: mean (min-max over noise sets); samplers with "
        "their default options; NFE counted by wrapping the model",
        f"- this model's DDIM-50 (clipped x0) vs diffusers' DDIMScheduler on it, same noise: largest "
        f"difference {gap:.1e} (in [0, 1])",
        f"- floor: {args.num} real train digits score FD {statistics.mean(floor):.2f} "
        f"({min(floor):.2f}-{max(floor):.2f}) against the {len(splits['eval'])} held-out digits (not a "
        "floor in practice: the feature CNN was trained on these digits, so their features sit apart from "
        "those of digits it never saw, generated or held out)",
        "",
    ]
    for ref in refs:
        count = len(splits["eval" if ref == "held-out" else "train"])
        lines += [f"## FD against the {ref} digits ({count} images)", "", *table(fd[ref], nfe, args), ""]
        lines += [answers[ref], ""]
    lines += [
        "CPU seconds per cell (all noise sets): "
        + "; ".join(f"{n} {s}: {cpu[n, s]:.0f}" for n in args.samplers for s in args.steps),
        "",
    ]
    plot(fd["held-out"], nfe, args, target(fd["held-out"]), args.out.with_suffix(".png"))
    write_report(args.out, "\n".join(lines))
    return 0


def target(fd: dict[tuple[str, int], list[float]]) -> float:
    """DDIM-50's quality: the worse of its noise sets' FD."""
    return max(fd.get(("ddim", 50), [float("nan")]))


def answer(fd: dict[tuple[str, int], list[float]], nfe: dict[tuple[str, int], int]) -> str:
    """The fewest model evaluations whose mean FD is within DDIM-50's range over noise sets."""
    goal = target(fd)
    reached = sorted((nfe[k], statistics.mean(v), k) for k, v in fd.items() if statistics.mean(v) <= goal)
    if not reached:
        return "No cell reaches DDIM-50's FD."
    n, value, (name, steps) = reached[0]
    return (
        f"**Answer:** {name} with {steps} steps ({n} model evaluations, FD {value:.2f}) reaches DDIM-50's "
        f"quality (FD at most {goal:.2f}, the worse of its noise sets) with the fewest evaluations."
    )


def table(fd: dict, nfe: dict, args: argparse.Namespace) -> list[str]:
    lines = header("sampler", *(f"{s} steps (NFE, FD)" for s in args.steps))
    for name in args.samplers:
        cells = []
        for steps in args.steps:
            v = fd[name, steps]
            cells.append(f"{nfe[name, steps]}, {statistics.mean(v):.2f} ({min(v):.2f}-{max(v):.2f})")
        lines.append(row(name, *cells))
    return lines


def plot(fd: dict, nfe: dict, args: argparse.Namespace, target: float, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name in args.samplers:
        xs = [nfe[name, s] for s in args.steps]
        ys = [statistics.mean(fd[name, s]) for s in args.steps]
        ax.plot(xs, ys, marker="o", label=name)
    ax.axhline(target, color="grey", linestyle="--", label="DDIM-50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model evaluations per image (NFE)")
    ax.set_ylabel("Fréchet distance (digit-CNN features)")
    ax.set_title("digits: sampling quality per model evaluation", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
