"""`uvicorn app.main:app`, the command every FastAPI user types, serves the API; the Lambda
handler's import still builds the app only once (through the factory)."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256
from tests.workflows.support import ROOT, free_port, shell_env, stop, wait_for_http


def test_uvicorn_app_main_app_serves_the_api(database_url: str, seeded_db: Engine) -> None:
    import httpx

    port = free_port()
    env = shell_env(DATABASE_URL=database_url, ADMIN_TOKEN_SHA256=ADMIN_TOKEN_SHA256)
    process = subprocess.Popen(
        ["uvicorn", "app.main:app", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/health").json() == {"status": "ok"}
            assert http.head("/health").status_code == 200
            assert [p["slug"] for p in http.get("/projects").json()["items"]] == ["hello-world"]
            created = http.post(
                "/projects",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                json={"slug": "via-uvicorn", "title": "T", "summary": "s", "body": "b"},
            )
            assert created.status_code == 201, created.text
    finally:
        stop(process)


def test_importing_the_handler_does_not_build_the_module_level_app() -> None:
    # The module-level `app` is built on first access only: INIT builds one app (the adapter's),
    # not two, and imports nothing more than before.
    code = (
        "import json, sys, handler, app.main as m; "
        "print(json.dumps([m._app is None, 'uvicorn' in sys.modules]))"
    )
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == [True, False]


def test_the_module_level_app_is_built_once_from_the_environment() -> None:
    code = (
        "import app.main as m; from app.main import app; "
        "print(app is m.app, app.state.settings.database_url)"
    )
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:////tmp/never-opened.db"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == ["True", "sqlite:////tmp/never-opened.db"]
