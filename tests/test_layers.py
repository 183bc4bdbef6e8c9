"""Layers only point down: cli -> server -> ingest -> kb. Each package's modules are imported
in a fresh interpreter, which then lists the project packages it loaded; and every import
statement in its source, lazy ones inside functions included, is read."""

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

PROJECT = {"kb", "ingest", "server", "cli", "evaluation", "benchmarks"}
ALLOWED = {
    "kb": {"kb"},
    "ingest": {"kb", "ingest"},
    "server": {"kb", "ingest", "server"},
}

LOADED = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, sys.argv[1] + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_below(package: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", LOADED, package],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(run.stdout)) & PROJECT
    assert package in loaded
    assert loaded <= ALLOWED[package], f"{package} loads {sorted(loaded - ALLOWED[package])}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_statement_reaches_up(package: str) -> None:
    reached: dict[str, set[str]] = {}
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in PROJECT - ALLOWED[package]:
                    reached.setdefault(str(path.relative_to(REPO)), set()).add(name)
    assert not reached, f"{package} imports layers above it: {reached}"
