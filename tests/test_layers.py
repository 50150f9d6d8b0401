"""The package's layers, checked on the code: imports that should never exist, and no module imports
another module's private names. ARCHITECTURE.md draws the same layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "evalharness"

# Longest prefix wins. Paths are relative to evalharness/, without .py.
LAYERS = {
    "cli": "face", "pytest_plugin": "face", "__main__": "face",
    "api": "api", "lifecycle": "api", "paraphrase": "api",
    "engine": "engine",
    "targets": "targets",
    "suite": "suite", "mutators": "suite",
    "scorers": "scorers",
    "judges": "judges",
    "results": "results",
    "gate": "analysis", "conclude": "analysis", "compare": "analysis", "stats": "analysis", "report": "analysis",
    "views": "analysis", "signoff": "analysis", "sizing": "analysis",
    "guard": "guard",
}
# (from, to): imports that should never exist (../shared/design/layers.md), plus: nothing below the API
# reaches up into it, and nothing but the face imports the face.
FORBIDDEN = {
    ("scorers", "suite"), ("judges", "scorers"), ("judges", "engine"), ("scorers", "engine"),
    ("results", "analysis"), ("analysis", "api"), ("engine", "api"), ("targets", "suite"),
    ("targets", "engine"), ("targets", "api"), ("suite", "api"), ("scorers", "api"), ("judges", "api"),
    ("results", "api"), ("guard", "api"), ("results", "engine"),
} | {(a, "face") for a in set(LAYERS.values()) - {"face"}}


def layer(module: str) -> str | None:
    rel = module.removeprefix("evalharness").lstrip(".").replace(".", "/")
    best = None
    for prefix, name in LAYERS.items():
        if rel == prefix or rel.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, name)
    return best[1] if best else None  # the base modules (errors, redact, procs, ...) sit under everything


def imports():
    for f in sorted(PKG.rglob("*.py")):
        mod = "evalharness." + ".".join(f.relative_to(PKG).with_suffix("").parts)
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evalharness"):
                yield f, node.lineno, mod, node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("evalharness"):
                        yield f, node.lineno, mod, a.name, []


ALL = list(imports())


def test_the_walk_finds_imports():
    assert len(ALL) > 100  # the check below must have something to check


@pytest.mark.parametrize("rule", sorted(FORBIDDEN), ids=lambda r: f"{r[0]}->{r[1]}")
def test_no_forbidden_import(rule):
    bad = [f"{f.relative_to(PKG.parent)}:{line}: {mod} imports {target}" for f, line, mod, target, _ in ALL
           if (layer(mod), layer(target)) == rule]
    assert not bad, "\n".join(bad)


def test_no_private_names_across_modules():
    bad = [f"{f.relative_to(PKG.parent)}:{line}: {target}.{n}" for f, line, mod, target, names in ALL
           for n in names if n.startswith("_") and not n.startswith("__") and target != mod]
    assert not bad, "\n".join(bad)


def test_no_module_is_a_hub():
    big = {str(f.relative_to(PKG.parent)): n for f in PKG.rglob("*.py")
           if (n := len(f.read_text().splitlines())) > 450}
    assert not big, f"modules over 450 lines: {big}"
