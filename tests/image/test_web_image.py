"""The image as ECS runs it: no command override, no Lambda runtime API, HTTP on $PORT.

Run under podman with a read-only root filesystem (only /tmp writable, as LOCKED_DOWN gives
every test container), on the suite's PostgreSQL (host network). The scenarios are the ones
tests/test_http_host.py runs on a server process (tests/http_scenarios.py).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests import http_scenarios as scenarios
from tests.conftest import load_event
from tests.image.running_function import running_function
from tests.image.support import (
    LOCKED_DOWN,
    BuiltImage,
    build_image,
    engine,
    engine_name,
    free_port,
)

pytestmark = pytest.mark.image


def _ulimits() -> list[str]:
    if engine_name() != "podman":
        return []
    return ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]


class Container:
    """The image started detached with `env`; `--network host` reaches the suite's database."""

    def __init__(self, image: BuiltImage, env: dict[str, str], *flags: str) -> None:
        self.name = f"portfolio-http-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        values = {"PORT": str(self.port), **env}
        env_flags = [item for k, v in values.items() for item in ("-e", f"{k}={v}")]
        engine(
            "run", "--detach", "--name", self.name, "--platform", f"linux/{image.arch}",
            *LOCKED_DOWN, *_ulimits(), "--network", "host", *env_flags, *flags, image.tag,
        )  # fmt: skip
        scenarios.wait_until_serving(self.port, timeout=600, alive=self._running)

    def _running(self) -> bool:
        done = engine("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return done.stdout.strip() == "true"

    def terminate(self) -> None:
        engine("kill", "--signal", "TERM", self.name)

    def wait(self, timeout: float) -> int:
        return int(engine("wait", self.name, timeout=timeout).stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        done = engine("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self) -> None:
        engine("rm", "-f", self.name, check=False)


@pytest.fixture
def start_container(
    image: BuiltImage, database_url: str, clean_db: Engine
) -> Iterator[Callable[..., Container]]:
    started: list[Container] = []

    def start(*flags: str, **env: str) -> Container:
        values = {"DATABASE_URL": database_url, "DB_STATEMENT_TIMEOUT_MS": "30000", **env}
        container = Container(image, values, *flags)
        started.append(container)
        return container

    yield start
    for container in started:
        container.stop()


def test_health_and_the_database_routes_answer_on_a_read_only_root(start_container: Any) -> None:
    server = start_container(WEB_CONCURRENCY="2")
    scenarios.health_and_database_routes_answer(server.port)
    server.terminate()
    assert server.wait(60) == 0
    logs = server.logs()
    scenarios.logs_are_json_with_an_access_log(logs)
    assert "2 x 5 = 10 connections" in logs


def test_workers_follow_the_container_s_cpu_quota(start_container: Any) -> None:
    server = start_container("--cpus", "1")
    assert "1 worker(s)" in server.logs()


def test_health_answers_while_a_request_waits_on_a_table_lock(
    start_container: Any, clean_db: Engine
) -> None:
    server = start_container(WEB_CONCURRENCY="1")
    seconds = scenarios.health_answers_while_a_request_waits_on_a_lock(server.port, clean_db)
    print(f"\n/health while a POST waits on a lock: {seconds * 1000:.1f} ms")


def test_sixteen_concurrent_reads_use_the_pool_s_connections(
    start_container: Any, clean_db: Engine
) -> None:
    server = start_container(WEB_CONCURRENCY="1", DB_POOL_SIZE="4")
    scenarios.concurrent_reads_use_the_whole_pool(server.port, clean_db, pool_size=4)


def test_sigterm_lets_requests_in_flight_finish_and_exits_0(
    start_container: Any, clean_db: Engine
) -> None:
    server = start_container(WEB_CONCURRENCY="2")
    scenarios.sigterm_lets_in_flight_requests_finish(server, clean_db)


def test_a_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(start_container: Any) -> None:
    scenarios.forwarded_for_is_ignored_from_an_untrusted_peer(start_container().port)


def test_forwarded_for_is_read_from_a_trusted_proxy(start_container: Any) -> None:
    server = start_container(TRUSTED_PROXIES="127.0.0.1/32")
    scenarios.forwarded_for_is_read_from_a_trusted_proxy(server.port)


def test_docker_run_publish_8000_serves_without_any_setting(image: BuiltImage) -> None:
    # As a new user tries it: `docker run -p 8000:8000 IMAGE`, nothing else (the database
    # is unused by /health; the default SQLite path would only be opened by database routes).
    name = f"portfolio-http-{uuid.uuid4().hex[:8]}"
    port = free_port()
    engine(
        "run", "--detach", "--name", name, *LOCKED_DOWN, *_ulimits(),
        "-p", f"127.0.0.1:{port}:8000", image.tag,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    assert (r.status, json.loads(r.read())) == (200, {"status": "ok"})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(engine("logs", name, check=False).stderr) from None
                time.sleep(0.2)
    finally:
        engine("rm", "-f", name, check=False)


def test_the_same_entry_point_runs_the_lambda_runtime_client_under_the_emulator(
    image: BuiltImage,
) -> None:
    # The emulator sets AWS_LAMBDA_RUNTIME_API for the command it starts, as Lambda does for
    # the image's ENTRYPOINT + CMD (which the project's runner, engine.sh run-local, reads from
    # the image): the entry must hand over to awslambdaric, not serve HTTP.
    config = image.inspect()["Config"]
    env = {"DATABASE_URL": "sqlite:////tmp/portfolio.db"}
    with running_function(image.tag, env) as function:
        answer = function.wait_ready(load_event("http-v2/get-health.json"))
        pid = function.function_pid()
        command = function.exec_python(f"print(open('/proc/{pid}/cmdline').read())")
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"status": "ok"}
    assert command.rstrip("\n").split("\0")[:-1] == [*config["Entrypoint"], *config["Cmd"]]


@pytest.mark.arm64
@pytest.mark.timeout(3000)
def test_the_arm64_image_serves_http_under_qemu(database_url: str, clean_db: Engine) -> None:
    built = build_image("portfolio-backend:arm64", "arm64")
    assert built.inspect()["Architecture"] == "arm64"
    server = Container(built, {"DATABASE_URL": database_url, "WEB_CONCURRENCY": "1"})
    try:
        scenarios.health_and_database_routes_answer(server.port)
    finally:
        server.stop()
