"""The HTTP host (app/hosts/http_host.py) as a server process on the suite's PostgreSQL:
`python -m app.hosts.entry`, the image's entry point, without a Lambda runtime API.

The same scenarios run against the image under podman in tests/image/test_web_image.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.hosts import http_host
from tests import http_scenarios as scenarios
from tests.conftest import ROOT
from tests.image.support import free_port


class ServerProcess:
    """`python -m app.hosts.entry handler.handler` with `env`, its output in files."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.port = free_port()
        self.out, self.err = tmp / f"{self.port}.out", tmp / f"{self.port}.err"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DB_"))}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.hosts.entry", "handler.handler"],
                cwd=ROOT,
                env={**base, "PORT": str(self.port), **env},
                stdout=out,
                stderr=err,
                start_new_session=True,  # its workers are stopped with it (see stop)
            )
        scenarios.wait_until_serving(self.port, alive=lambda: self.process.poll() is None)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def logs(self) -> str:
        return self.err.read_text() + self.out.read_text()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, to the whole process group: no orphaned worker survives."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(30)
                os.killpg(self.process.pid, 0)  # workers may outlive the supervisor
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def start_server(
    database_url: str, clean_db: Engine, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        values = {"DATABASE_URL": database_url, "DB_STATEMENT_TIMEOUT_MS": "30000", **env}
        server = ServerProcess(values, tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_health_and_the_database_routes_answer_with_json_logs(start_server: Any) -> None:
    server = start_server(WEB_CONCURRENCY="2")
    scenarios.health_and_database_routes_answer(server.port)
    server.terminate()
    assert server.wait(30) == 0
    scenarios.logs_are_json_with_an_access_log(server.logs())
    assert "2 x 5 = 10 connections" in server.logs()


@pytest.mark.slow  # a server process each; the image tests run them too
def test_health_answers_while_a_request_waits_on_a_table_lock(
    start_server: Any, clean_db: Engine
) -> None:
    server = start_server(WEB_CONCURRENCY="1")
    scenarios.health_answers_while_a_request_waits_on_a_lock(server.port, clean_db)


@pytest.mark.slow  # a server process each; the image tests run them too
def test_sixteen_concurrent_reads_use_the_pool_s_connections(
    start_server: Any, clean_db: Engine
) -> None:
    server = start_server(WEB_CONCURRENCY="1", DB_POOL_SIZE="4")
    scenarios.concurrent_reads_use_the_whole_pool(server.port, clean_db, pool_size=4)


@pytest.mark.slow  # a server process each; the image tests run them too
def test_sigterm_lets_requests_in_flight_finish_and_exits_0(
    start_server: Any, clean_db: Engine
) -> None:
    server = start_server(WEB_CONCURRENCY="2")
    scenarios.sigterm_lets_in_flight_requests_finish(server, clean_db)


def test_a_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(start_server: Any) -> None:
    scenarios.forwarded_for_is_ignored_from_an_untrusted_peer(start_server().port)


@pytest.mark.slow  # a server process each; the image tests run them too
def test_forwarded_for_is_read_from_a_trusted_proxy(start_server: Any) -> None:
    server = start_server(TRUSTED_PROXIES="127.0.0.1")
    scenarios.forwarded_for_is_read_from_a_trusted_proxy(server.port)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({}, None),
    ],
)
def test_the_cgroup_cpu_quota_is_read_from_v2_or_v1(
    tmp_path: Path, files: dict[str, str], expected: float | None
) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    assert http_host._cgroup_quota(tmp_path) == expected
    cpus = len(os.sched_getaffinity(0))
    want = cpus if expected is None else min(cpus, max(1, -(-expected // 1)))
    assert http_host.available_cpus(tmp_path) == want
