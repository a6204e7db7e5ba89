"""Which package may import which: prediction-time code never depends on the experiment toolkit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> top-level project packages it must never import (at module level or inside a function)
FORBIDDEN = {
    "classifiers": {"training", "serving", "deploy"},
    "serving": {"training", "deploy"},
    # the tracking stack is infrastructure: it runs PostgreSQL and MLflow and knows no model code
    "deploy": {"classifiers", "training", "serving"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every module a source file imports. Relative imports are left out: each package here is a
    top-level one, and Python refuses a relative import that would leave it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_the_allowed_graph(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("def f():\n    from training.trainer import train\n    import serving.app\n", encoding="utf-8")
    assert imported_packages(source) == {"training", "serving"}
