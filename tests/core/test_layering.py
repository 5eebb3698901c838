"""Package layering, read from the source: tambon <- evidence <- compliance, oracle <- frontend.

Every `import` and `from ... import` is checked, at module level or inside a function alike; a package
may import its own modules and the packages of lower layers only (siblings of one layer neither), and
nothing in them imports the scripts or the tests. The core reaches the packages above it only through
entry points (`tambon.cli`, `tambon.plugins`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER = {"tambon": 0, "evidence": 1, "compliance": 2, "oracle": 2, "frontend": 3}
NEVER = {"scripts", "tests"}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def layering_problems(package: str, source: str, where: str) -> list[str]:
    problems = []
    for line, imported in imported_packages(source):
        if imported == package:
            continue
        if imported in NEVER or (imported in LAYER and LAYER[imported] >= LAYER[package]):
            problems.append(f"{where}:{line}: {package} imports {imported}")
    return problems


def test_imported_packages__module_level_and_inside_functions():
    source = (
        "import evidence.dag\nfrom tambon import cid\ndef f():\n    from frontend.app import create_app\n"
    )
    assert imported_packages(source) == [(1, "evidence"), (2, "tambon"), (4, "frontend")]


@pytest.mark.parametrize(
    ("package", "source", "upward"),
    [
        ("tambon", "def f():\n    from evidence.remote import open_store\n", True),
        ("evidence", "from compliance.source import read_traces\n", True),
        ("compliance", "import oracle.coldchain\n", True),  # a sibling of the same layer
        ("frontend", "from tests.frontend.world import MODEL_SHA\n", True),
        ("frontend", "from oracle.coldchain import read_log\nfrom compliance import epcis\n", False),
        ("oracle", "from evidence.bundle import open_bundle\nfrom tambon.cid import OnchainCid\n", False),
        ("evidence", "from . import dag\nimport httpx\n", False),
    ],
)
def test_layering_problems__upward_and_sibling_imports_found(package, source, upward):
    assert bool(layering_problems(package, source, "x.py")) is upward


def test_packages__import_no_package_above_them():
    problems = []
    for package in LAYER:
        for path in sorted((REPO / package).rglob("*.py")):
            where = str(path.relative_to(REPO))
            problems += layering_problems(package, path.read_text(encoding="utf-8"), where)
    assert problems == []
