"""What importing the handler loads: the cold-start diet, held by deterministic budgets.

Timings are measured by bench/, never asserted here; which modules load is deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# Each costs cold-start time and is not needed to answer a request.
NEVER_AT_START = [
    "sqlalchemy.orm",
    "alembic",
    "pydantic.v1",
    "app.migrate",
    "app.aws_secrets",
    "app.custom_resource",
    "email_validator",
    "uvicorn",
    "starlette.testclient",
]


def _modules_after_import(env_overrides: dict[str, str]) -> set[str]:
    code = (
        "import sys, json, handler; "
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))"
    )
    env = {"PATH": "/usr/bin:/bin", **env_overrides}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def test_handler_import_leaves_the_heavy_modules_out() -> None:
    modules = _modules_after_import({"DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db"})
    assert sorted(m for m in NEVER_AT_START if m in modules) == []


def test_module_count_budget() -> None:
    # 572 at the time of writing; the dependency floor (awslambdaric + fastapi +
    # sqlalchemy.orm + psycopg2 + mangum) loads 550. A jump means a new start-path import.
    modules = _modules_after_import({"DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db"})
    assert len(modules) < 600, len(modules)
