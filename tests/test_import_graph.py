"""The host seam, checked on the import graph: the service does not know who hosts it.

app/data and app/api import nothing from app/hosts (Lambda, the HTTP server) or app/aws (AWS
clients), and app/data nothing from FastAPI or Starlette. Checked twice: every import
statement in the files (function-local ones too), and the modules really loaded when the
packages are imported in a fresh interpreter (an indirect import counts as much as a direct one).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HOST_AND_AWS = ("app.hosts", "app.aws")
WEB = ("fastapi", "starlette")
# app/fallback is the service too: it is given its object store, it never builds one.
# app/data takes plain values: it does not import the routes' schemas either.
FORBIDDEN = {
    "app/data": HOST_AND_AWS + WEB + ("app.api",),
    "app/api": HOST_AND_AWS,
    "app/fallback": HOST_AND_AWS,
}


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, package: str) -> set[str]:
    """Every module an import statement in `source` (a module of `package`) names, relative
    imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _hits(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f"{f}.") for f in forbidden))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_statement_crosses_the_seam(package: str) -> None:
    files = sorted((ROOT / package).glob("*.py"))
    assert len(files) >= 5
    crossings = {
        str(path.relative_to(ROOT)): hits
        for path in files
        if (
            hits := _hits(
                imports_of(path.read_text(), package.replace("/", ".")), FORBIDDEN[package]
            )
        )
    }
    assert crossings == {}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_importing_the_package_loads_nothing_across_the_seam(package: str) -> None:
    modules = [_module_of(p) for p in sorted((ROOT / package).glob("*.py"))]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert _hits(set(json.loads(out)), FORBIDDEN[package]) == []


def test_the_check_sees_local_and_relative_imports() -> None:
    # A check that missed imports inside functions, or relative ones, could never fail.
    source = (
        "def f():\n    from app.aws import rds_auth\n    from ..hosts import lambda_host\n"
        "    import starlette.requests\n"
    )
    assert _hits(imports_of(source, "app.data"), FORBIDDEN["app/data"]) == [
        "app.aws",
        "app.aws.rds_auth",
        "app.hosts",
        "app.hosts.lambda_host",
        "starlette.requests",
    ]
