"""docs/plugins.md is executable: every complete example in it registers a component that passes the kit."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from dvcore.api import Registrar
from dvcore.plugins import load
from dvcore.testing import TinyBackbone, check_component, check_task

GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"


def examples() -> dict[str, str]:
    """Section title -> the complete example of the section (a python block that registers components)."""
    text = GUIDE.read_text()
    out = {}
    for section in re.split(r"\n## ", text)[1:]:
        title = section.splitlines()[0].strip()
        for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
            if "def dvcore_register_components" in block and "dvcore_sharpen" not in block:
                out[title] = block
    return out


def test_the_guide_has_a_complete_example_per_kind():
    kinds = {"Backbone", "Dataset", "Metric", "Loss", "Schedule", "Sampler", "Tracker", "Task", "Baseline"}
    assert kinds <= set(examples())


def registry_with(title: str, source: str):
    module = types.ModuleType(f"guide_{title.lower()}")
    exec(compile(source, f"docs/plugins.md ({title})", "exec"), module.__dict__)

    def tiny(registrar: Registrar) -> None:
        registrar.add(
            "backbone",
            "kit_tiny",
            lambda o, *, in_channels, out_channels: TinyBackbone(in_channels, out_channels),
        )

    kit = types.ModuleType("kit")
    kit.dvcore_register_components = module.hookimpl(tiny) if hasattr(module, "hookimpl") else None  # type: ignore[attr-defined]
    loaded = load(strict=False, extra_plugins={"guide": module, "kit": kit})
    assert not loaded.failures, loaded.failures
    return loaded.registry, [c for c in loaded.registry if c.origin == "guide"]


@pytest.mark.parametrize(
    "title", ["Backbone", "Dataset", "Metric", "Loss", "Schedule", "Sampler", "Tracker", "Baseline"]
)
def test_the_guides_example_passes_the_kit(title: str, tmp_path: Path):
    registry, components = registry_with(title, examples()[title])
    assert components, f"the {title} example registers nothing"
    for component in components:
        extra = {"directory": tmp_path} if component.kind == "tracker" else {}
        check_component(component.kind, component.name, registry=registry, **extra)


TASK_RECIPE = """
experiment = "guide"
seed = 0
device = "cpu"
runs_root = "{runs}"

[task]
name = "denoise"

[data]
name = "moving_shapes"
size = 16
num_train = 8
num_eval = 4

[model]
name = "kit_tiny"

[loss]
name = "pixel"

[tracker]
name = "none"
"""


def test_the_guides_task_example_passes_the_kit(tmp_path: Path):
    registry, _ = registry_with("Task", examples()["Task"])
    check_task(TASK_RECIPE.format(runs=tmp_path), registry=registry)
