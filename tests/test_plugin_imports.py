"""Shipped plugins use only the public plugin surface, so they are examples a third party can copy."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ("dvcore.api", "dvcore.protocols", "dvcore.nn", "dvcore.testing")  # and their submodules


def _is_public(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PUBLIC)


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: module`` for each import of a dvcore module outside the public surface."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from dvcore import api` names a submodule; `from dvcore import hookimpl` is core internals
            base = node.module
            modules = [f"{base}.{alias.name}" for alias in node.names] if base == "dvcore" else [base]
        else:
            continue
        for module in modules:
            if (module == "dvcore" or module.startswith("dvcore.")) and not _is_public(module):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {module}")
    return found


def test_the_scan_sees_a_private_import(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        "from dvcore.registry import Registrar\nfrom dvcore import hookimpl\n"
        "import dvcore.recipe\nfrom dvcore.api import opt\nfrom dvcore.nn import Mlp\nimport torch\n"
    )
    assert private_imports(source, tmp_path) == [
        "probe.py:1: dvcore.registry",
        "probe.py:2: dvcore.hookimpl",
        "probe.py:3: dvcore.recipe",
    ]


def test_shipped_plugins_and_the_example_import_only_the_public_surface():
    sources = sorted([*ROOT.glob("plugins/*/src/**/*.py"), *ROOT.glob("examples/*/src/**/*.py")])
    assert len(sources) > 20  # every shipped plugin's sources are scanned
    found = [line for path in sources for line in private_imports(path)]
    assert found == [], "\n".join(found)
