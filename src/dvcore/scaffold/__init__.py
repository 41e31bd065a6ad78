"""``dvcore plugin new``: write an installable plugin package with one working component of a kind.

The package is what docs/plugins.md describes: a pyproject with the ``dvcore`` entry point,
``src/<package>/`` with ``options.py``, the implementation and ``plugin.py`` (the
registration hook and the plugin API it targets), tests that run the conformance kit, and a
README. Right after ``pip install -e`` its tests pass. An existing path is never touched.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import attrs

from dvcore.api import PLUGIN_API_VERSION
from dvcore.scaffold.kinds import KINDS, KindTemplate

__all__ = ["KINDS", "PluginNames", "ScaffoldError", "new_plugin", "plugin_names"]


class ScaffoldError(ValueError):
    """A name or a target directory that cannot be used (one line, for exit code 2)."""


@attrs.frozen
class PluginNames:
    """The names one plugin name implies."""

    distribution: str  # what pip installs: "dvcore-sharpen"
    package: str  # what Python imports: "dvcore_sharpen"
    component: str  # what recipes name: "sharpen"
    class_name: str  # CamelCase of the component: "Sharpen"


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*$")


def plugin_names(name: str) -> PluginNames:
    """Names from a distribution name (``dvcore-sharpen`` -> package ``dvcore_sharpen``, component
    ``sharpen``).
    """
    if not _NAME.match(name):
        raise ScaffoldError(
            f"plugin name: expected letters, digits and single '-', '_' or '.' between them "
            f"(e.g. dvcore-sharpen), got {name!r}"
        )
    distribution = re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalised
    package = distribution.replace("-", "_")
    component = package.removeprefix("dvcore_") or package
    class_name = "".join(part.capitalize() for part in component.split("_"))
    return PluginNames(distribution, package, component, class_name)


def _fill(template: str, names: PluginNames, kind: str) -> str:
    return string.Template(template).substitute(
        package=names.package, component=names.component, Class=names.class_name, kind=kind
    )


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "A dvcore plugin: $summary."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["dvcore"]

[project.optional-dependencies]
test = ["pytest>=8"]

# dvcore finds plugins through this entry-point group; the module holds the registration hook.
[project.entry-points.dvcore]
$component = "$package.plugin"

[tool.setuptools.packages.find]
where = ["src"]
"""

PLUGIN = '''"""Registers $component with dvcore (entry point ``$component`` of the group ``dvcore``)."""

from __future__ import annotations

from dvcore.api import Registrar, hookimpl

$package_imports

# The dvcore plugin API this plugin is written for (dvcore.api.PLUGIN_API_VERSION).
DVCORE_PLUGIN_API = "$api"


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    """Called once when dvcore loads its plugins."""
    registrar.add("$kind", "$component", $factory, ${Class}Options)
'''

INIT = '''"""$distribution: $summary, as a dvcore plugin."""
'''

README = """# $distribution

A dvcore plugin: $summary. Written by `dvcore plugin new $distribution --kind $kind`;
the contract of a $kind and how to change this one are in dvcore's guide, docs/plugins.md.

## Install

    pip install -e .            # or: pip install .  (or a wheel from: python -m build)
    dvcore plugins show $kind $component     # its options, from the installed entry point

## Use it in a recipe

```toml
$recipe
```

## Test

    pytest                      # runs dvcore's conformance kit (dvcore.testing) on the component

## Layout

- `src/$package/options.py`: the options (the recipe section's fields), each `opt(default, doc, *validators)`
- `src/$package/$module`: the $kind itself
- `src/$package/plugin.py`: registration (`dvcore_register_components`) and `DVCORE_PLUGIN_API`
- `tests/`: the conformance kit and a behaviour test
"""


def new_plugin(name: str, kind: str, directory: Path | str = ".") -> Path:
    """Write the package ``<directory>/<name>/``; returns its path. Never overwrites: raises ScaffoldError."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    names = plugin_names(name)
    template: KindTemplate = KINDS[kind]
    root = Path(directory) / name
    if root.exists():
        raise ScaffoldError(f"{root}: already exists; choose another name or --dir (nothing was written)")
    fields = {
        "distribution": names.distribution,
        "package": names.package,
        "component": names.component,
        "Class": names.class_name,
        "kind": kind,
        "module": template.module.removesuffix(".py"),
        "imports": _fill(template.factory, names, kind),
        "factory": _fill(template.factory, names, kind),
        "summary": template.summary,
        "api": PLUGIN_API_VERSION,
        "recipe": _fill(template.recipe, names, kind),
    }
    module = fields["module"]
    imports = {
        module: f"from {names.package}.{module} import {fields['imports']}",
        "options": f"from {names.package}.options import {names.class_name}Options",
    }
    fields["package_imports"] = "\n".join(imports[k] for k in sorted(imports))

    def render(text: str) -> str:
        return string.Template(text).substitute(fields)

    files = {
        "pyproject.toml": render(PYPROJECT),
        "README.md": render(README),
        f"src/{names.package}/__init__.py": render(INIT),
        f"src/{names.package}/options.py": _fill(template.options, names, kind),
        f"src/{names.package}/{template.module}": _fill(template.code, names, kind),
        f"src/{names.package}/plugin.py": render(PLUGIN),
        f"tests/test_{names.component}.py": _fill(template.tests, names, kind),
    }
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir()  # fails if it appeared meanwhile: still never overwrites
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
