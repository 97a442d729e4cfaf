"""The app under a real uvicorn on PostgreSQL, as `make run` serves it: requests at once
must all be served (issue 10, item 2). Before the fix two concurrent `GET /projects` gave one
200 after the pool timeout and one 503: a sync dependency went through the threadpool while
the route held the only pooled connection and the next request blocked the event loop."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256, ROOT
from tests.support import free_port

POOL_TIMEOUT = 5  # DB_CONNECT_TIMEOUT, also the pool's checkout timeout
CONCURRENT = 8


@pytest.fixture
def server(database_url: str, seeded_db: Engine) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN_SHA256": ADMIN_TOKEN_SHA256,
        "DB_CONNECT_TIMEOUT": str(POOL_TIMEOUT),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def _get(url: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/projects", {}),
        ("/contact", {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        ("/projects/hello-world", {}),
    ],
)
def test_concurrent_requests_under_uvicorn_all_succeed_promptly(
    server: str, path: str, headers: dict[str, str]
) -> None:
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
        results = list(pool.map(lambda _: _get(server + path, headers), range(CONCURRENT)))
    print(f"{path}: {CONCURRENT} at once, slowest {max(e for _, e in results):.3f} s")
    assert [status for status, _ in results] == [200] * CONCURRENT, results
    # A deadlock shows as a wait of the whole pool timeout; normal is a small fraction of it.
    assert max(elapsed for _, elapsed in results) < POOL_TIMEOUT, results
