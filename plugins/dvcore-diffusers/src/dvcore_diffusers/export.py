"""The ``diffusers`` exporter: a dvcore run as a directory diffusers loads and samples from.

For ``diffusers_unet2d`` the directory is a saved pipeline (``model_index.json``, ``unet/``,
``scheduler/``): ``DDIMPipeline.from_pretrained(OUT)`` (or ``DDPMPipeline`` when the run
samples with ddpm) draws the same images as ``dvcore sample`` from the same generator. For
``diffusers_dit`` it is ``transformer/`` and ``scheduler/`` (DiTPipeline also needs a VAE and
class labels, which a pixel-space unconditional run has not): the transformer alone loads with
``DiTTransformer2DModel.from_pretrained(OUT, subfolder="transformer")``, called with the null
class label ``config.num_embeds_ada_norm``.

The scheduler carries the run's noise levels exactly (``trained_betas``), its prediction type
and the sampler's spacing and clipping, so nothing about the schedule is re-derived.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diffusers import DDIMPipeline, DDIMScheduler, DDPMPipeline, DDPMScheduler, SchedulerMixin

from dvcore.api import ExportSource, RecipeError
from dvcore_diffusers.backbones import DiffusersBackbone, DiffusersDiT, DiffusersUNet2D

PREDICTION_TYPES = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}
PROVENANCE_FILE = "dvcore_export.json"


def scheduler_for(source: ExportSource) -> SchedulerMixin:
    """The diffusers scheduler that samples as the run's sampler does (DDPM for ddpm, else DDIM)."""
    sampler = source.sampler
    o: Any = sampler.options
    common: dict[str, Any] = {
        "num_train_timesteps": source.schedule.num_train_timesteps,
        "trained_betas": source.schedule.betas.tolist(),
        "prediction_type": PREDICTION_TYPES[source.prediction_type],
        "timestep_spacing": getattr(o, "timestep_spacing", "trailing"),
        "steps_offset": getattr(o, "steps_offset", 0),
        "clip_sample": getattr(o, "clip_sample", True),
        "clip_sample_range": getattr(o, "clip_sample_range", 1.0),
        "thresholding": getattr(o, "thresholding", False),
        "dynamic_thresholding_ratio": getattr(o, "thresholding_ratio", 0.995),
        "sample_max_value": getattr(o, "thresholding_max", None) or 1e9,  # dvcore: unset = no bound
    }
    if sampler.name == "ddpm":
        return DDPMScheduler(variance_type=o.variance, **common)
    set_alpha_to_one = getattr(o, "set_alpha_to_one", True)
    return DDIMScheduler(set_alpha_to_one=set_alpha_to_one, **common)


def check_exportable(source: ExportSource) -> list[str]:
    problems = []
    if not isinstance(source.model, DiffusersBackbone):
        problems.append(
            f"model.name: {source.recipe.model.name!r} has no diffusers counterpart; "
            "train with diffusers_unet2d or diffusers_dit to export to diffusers"
        )
    if source.schedule is None or source.prediction_type is None or source.image_shape is None:
        problems.append(
            f"task.name: {source.recipe.task.name!r} is not unconditional image diffusion; "
            "only generate runs export to a diffusers pipeline"
        )
    elif source.channels[0] != source.channels[1]:
        problems.append(
            "task: the backbone's input and output channels differ; a diffusers pipeline needs them equal"
        )
    return problems


class DiffusersExporter:
    """Writes a dvcore run as a diffusers directory."""

    def export(self, source: ExportSource, out: Path) -> None:
        problems = check_exportable(source)
        if problems:
            raise RecipeError(problems)
        scheduler = scheduler_for(source)
        net = source.model.net.float().eval()
        _, h, w = source.image_shape
        if isinstance(source.model, DiffusersUNet2D):
            net.register_to_config(sample_size=h if h == w else (h, w))  # pipelines draw noise of this size
            pipeline_cls = DDPMPipeline if isinstance(scheduler, DDPMScheduler) else DDIMPipeline
            pipeline_cls(unet=net, scheduler=scheduler).save_pretrained(out, safe_serialization=True)
        elif isinstance(source.model, DiffusersDiT):
            net.save_pretrained(out / "transformer", safe_serialization=True)
            scheduler.save_pretrained(out / "scheduler")
        provenance = {
            "run_dir": str(source.run_dir.resolve()),
            "experiment": source.recipe.experiment,
            "step": source.step,
            "weights": source.weights,
            "sampler": source.sampler.name,
            "image_shape": list(source.image_shape),
        }
        (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
