"""What ``dvcore plugin new`` writes for each kind: a working minimal component, its options and its tests.

The files themselves are package data, ``templates/<kind>/``: ``options.py.tmpl``, the
implementation (``<module>.tmpl``) and ``test.py.tmpl``. Each is a ``string.Template`` over
``$package`` (the import name), ``$component`` (the registered name), ``$Class`` (CamelCase
of the component) and ``$kind``. The code imports from ``dvcore.api`` and ``dvcore.testing``
only, like every shipped plugin; the factory is always ``build_$component``.
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple


class KindTemplate(NamedTuple):
    kind: str
    module: str  # file name of the implementation, under src/<package>/
    summary: str  # one line for the README and the registration doc
    recipe: str  # the recipe lines that use the component

    factory: str = "build_$component"  # the factory's name, which plugin.py imports

    def _read(self, name: str) -> str:
        return (resources.files("dvcore.scaffold") / "templates" / self.kind / name).read_text()

    @property
    def options(self) -> str:
        """options.py"""
        return self._read("options.py.tmpl")

    @property
    def code(self) -> str:
        """The implementation."""
        return self._read(f"{self.module}.tmpl")

    @property
    def tests(self) -> str:
        """tests/test_<component>.py"""
        return self._read("test.py.tmpl")


_TABLE = [
    ("backbone", "model.py", "a small residual conv net conditioned on t", "width = 32"),
    ("dataset", "data.py", "clips of a coloured blob moving in a straight line", "size = 32\nnum_frames = 5"),
    ("metric", "metric.py", "mean absolute error per image, averaged over images", None),
    ("sampler", "sampler.py", "deterministic DDIM-style steps over spaced timesteps", ""),
    ("schedule", "schedule.py", "betas spaced geometrically between two values", ""),
    ("loss", "loss.py", "log-cosh distance between prediction and target", ""),
    ("tracker", "tracker.py", "scalars appended to a JSON-lines file in the run directory", ""),
    ("task", "task.py", "denoising: the model restores an image from a noisy copy", "noise_std = 0.1"),
]
_SECTION = {"backbone": "model", "dataset": "data"}  # the recipe section of each kind, where not the kind


def _recipe(kind: str, options: str | None) -> str:
    if options is None:  # a metric is listed, not a section of its own
        return '[eval]\nmetrics = ["$component"]'
    lines = [f"[{_SECTION.get(kind, kind)}]", 'name = "$component"', *([options] if options else [])]
    return "\n".join(lines)


_LABEL = {"schedule": "a noise schedule", "loss": "a regression loss"}

KINDS: dict[str, KindTemplate] = {
    kind: KindTemplate(kind, module, f"{summary} ({_LABEL.get(kind, f'a {kind}')})", _recipe(kind, options))
    for kind, module, summary, options in _TABLE
}
