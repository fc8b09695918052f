"""The rules of the house on imports, read from the source (docs/architecture.md, "Layers").

Every ``import``/``from`` of a project package anywhere in a module (top level or inside a
function) must point down or sideways within its layer.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("alphapulse", "shm", "mesh", "contracts", "cex", "nodes", "bench")

#: layer -> project packages (or subpackages) it may import; a layer may always import itself.
ALLOWED: dict[str, tuple[str, ...]] = {
    "alphapulse": (),
    "shm": ("alphapulse",),
    "mesh.protocol": ("alphapulse",),
    "mesh": ("alphapulse", "shm", "mesh"),
    "contracts": ("alphapulse", "mesh.protocol", "mesh.cli"),
    "cex": ("alphapulse", "mesh.protocol", "mesh.cli", "contracts"),
    "nodes": ("alphapulse", "shm", "mesh", "contracts", "cex"),
    "bench": ("alphapulse", "shm", "mesh", "contracts", "cex", "nodes"),
}


def _layer(module: str) -> str:
    return "mesh.protocol" if module.startswith("mesh.protocol") else module.split(".")[0]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(n for n in names if n.split(".")[0] in PACKAGES)
    return found


def _violations(layer: str) -> dict[str, list[str]]:
    top = layer.split(".")[0]
    files = [p for p in (ROOT / Path(*layer.split("."))).rglob("*.py")
             if "node_modules" not in p.parts]
    out: dict[str, list[str]] = {}
    for path in files:
        module = _module_name(path)
        if layer == "mesh" and _layer(module) == "mesh.protocol":
            continue  # checked as its own layer
        allowed = (*ALLOWED[layer], layer if layer != "mesh" else top)
        bad = sorted(m for m in _project_imports(path)
                     if not any(m == a or m.startswith(a + ".") for a in allowed))
        if bad:
            out[module] = bad
    return out


@pytest.mark.parametrize("layer", list(ALLOWED))
def test_layer_imports_only_what_lies_below_it(layer):
    assert _violations(layer) == {}


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "shm"
    fake.mkdir()
    (fake / "bad.py").write_text("def f():\n    from nodes.runtime import Node\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations("shm") == {"shm.bad": ["nodes.runtime"]}
