"""The connections the service really holds, read from PostgreSQL's pg_stat_activity (not the
pool's configuration): one per Lambda execution environment, at most DB_POOL_SIZE under a
multi-request server. Each test runs on a database of its own, so every backend counted with
the app's application_name is the service's."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.data.migrate import migrate
from tests.conftest import ROOT
from tests.support import free_port

CONTACT = {"name": "A", "email": "a@example.com", "message": "hello"}


def _backends(engine: Engine) -> set[int]:
    """Backend pids the service holds on `engine`'s database."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'portfolio-backend'"
            )
        )
        return {row.pid for row in rows}


def test_a_lambda_environment_serves_every_invocation_on_one_connection(
    make_client: Any, fresh_engine: Engine
) -> None:
    migrate(fresh_engine)
    url = fresh_engine.url.render_as_string(hide_password=False)
    client = make_client(database_url=url, contact_rate_limit=10_000)
    seen: set[int] = set()
    for n in range(12):
        if n % 3 == 0:
            assert client.post("/contact", CONTACT).status == 202
        elif n % 3 == 1:
            assert client.get("/projects").status == 200
        else:
            assert client.get("/health/ready").status == 200
        held = _backends(fresh_engine)
        assert len(held) == 1, held
        seen |= held
    assert len(seen) == 1  # the same connection every time, not one per invocation


def test_a_server_holds_at_most_its_pool(fresh_engine: Engine) -> None:
    migrate(fresh_engine)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": fresh_engine.url.render_as_string(hide_password=False),
        "DB_POOL_SIZE": "2",
        "DB_CONNECT_TIMEOUT": "5",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    try:
        stop = time.monotonic() + 30
        while True:
            try:
                get("/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < stop
                time.sleep(0.1)
        seen: set[int] = set()
        peak = 0
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(4):
                futures = [pool.submit(get, p) for p in ("/projects", "/health/ready") * 8]
                while not all(f.done() for f in futures):
                    held = _backends(fresh_engine)
                    peak, seen = max(peak, len(held)), seen | held
                assert [f.result() for f in futures] == [200] * 16
        held = _backends(fresh_engine)
        seen |= held
        print(f"server with DB_POOL_SIZE=2: peak {peak} connections, {len(seen)} distinct")
        assert 1 <= len(held) <= 2  # kept for the next requests, never more than the pool
        assert peak <= 2
    finally:
        process.terminate()
        process.wait(10)
