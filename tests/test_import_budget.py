"""What importing the handler loads: the cold-start diet, held by deterministic budgets.

Timings are measured by bench/, never asserted here; which modules load is deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Each costs cold-start time and is not needed to answer a request.
NEVER_AT_START = [
    "sqlalchemy.orm",
    "alembic",
    "pydantic.v1",
    "pydantic_settings",
    "dotenv",
    "app.data.migrate",
    "app.data.idempotency",
    "app.data.ratelimit",
    "app.aws.aws_secrets",
    "app.aws.custom_resource",
    "app.hosts.http_host",
    "email_validator",
    "uvicorn",
    "starlette.testclient",
    "app.api.contact",
    "app.api.admin",
]


def _modules_after_import(env_overrides: dict[str, str], preload: str = "") -> set[str]:
    """Modules really loaded after `import handler` (None entries, i.e. blocked names, are not)."""
    code = (
        f"import sys, json; {f'import {preload}; ' if preload else ''}import handler; "
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))"
    )
    env = {"PATH": "/usr/bin:/bin", **env_overrides}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def _heavy(modules: set[str]) -> list[str]:
    """The NEVER_AT_START packages loaded, counting any submodule (pydantic.v1.typing ...)."""
    return sorted(
        name
        for name in NEVER_AT_START
        if any(m == name or m.startswith(f"{name}.") for m in modules)
    )


ENV = {"DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db"}


def test_handler_import_leaves_the_heavy_modules_out() -> None:
    assert _heavy(_modules_after_import(ENV)) == []


@pytest.mark.parametrize("preload", ["pydantic.v1", "sqlalchemy.orm", "alembic"])
def test_the_check_reports_a_heavy_module_that_is_loaded(preload: str) -> None:
    # handler.py blocks pydantic.v1 with a None entry in sys.modules; a check that only looked
    # at that name could never fail. Loading it first (as a new import on the start path
    # would) must be reported.
    assert preload in _heavy(_modules_after_import(ENV, preload=preload))


def test_module_count_budget() -> None:
    # 554 at the time of writing (588 before issue 19: pydantic-settings with dotenv,
    # argparse and gettext, and the write-only idempotency and rate-limit modules); the
    # dependency floor (awslambdaric + fastapi + sqlalchemy.orm + psycopg2 + mangum) loads
    # 550. A jump means a new start-path import. 566 with the paused-database fallback
    # (docs/paused-database.md): its 12 modules (app/fallback, the S3 client and its signer,
    # the ETag middleware) cost ~5 ms of self import time (python -X importtime, median of 5),
    # on the start path by design: a cold start during a pause is when they answer.
    # 569 with the collector paused during INIT (app/hosts/startup_gc.py and the builtin gc);
    # 571 with app/endpoint_context.py and app/api/openapi.py, which each spare FastAPI work
    # at INIT or on the first request (docs/benchmark.md). Debian's own python3.11 loads one
    # module more than the suite's usual interpreter (tests/workflows/test_bare_debian.py).
    # 564 with the contact form's and the admin's routes declared on first use
    # (app/api/deferred.py: app/api/admin/*.py and app/api/contact.py no longer load at start),
    # 565 with app/api/public.py (the public reads served as declared); Debian's 566.
    modules = _modules_after_import(ENV)
    assert len(modules) <= 566, len(modules)
