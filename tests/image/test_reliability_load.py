"""Sustained load and graceful shutdown of the image under the Lambda emulator.

5,000 sequential warm invocations (loopback, keep-alive) with writes: no error, no growth in
database connections or memory, and the database holds exactly what was written. Then
SIGTERM, idle and in the middle of a request, as Lambda sends it before ending an environment.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from scripts.generate_events import http_v2
from tests.image.running_function import (
    Function,
    dedicated_database,
    function_env,
    image_under_test,
    running_function,
    server_url,
)

pytestmark = pytest.mark.image

INVOCATIONS = int(os.environ.get("LOAD_INVOCATIONS", "5000"))
WARMUP = 200
MAX_RSS_GROWTH_KB = 5 * 1024
# Loopback, one at a time: a few ms each; the bound only catches a hang or a slowdown.
TIME_BUDGET_S = 600
SIGTERM_LINE = "SIGTERM: engine disposed, exiting"


@pytest.fixture(scope="module")
def function_image(request: pytest.FixtureRequest) -> str:
    return image_under_test(request)


@pytest.fixture(scope="module")
def load_db(pg_cluster: Any) -> Iterator[tuple[str, Engine]]:
    with dedicated_database(server_url(pg_cluster), "reliability_load") as url:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        yield url, engine
        engine.dispose()


def _count(engine: Engine, where: str = "") -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    f"AND application_name = 'portfolio-backend' {where}"
                )
            ).scalar_one()
        )


def _event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "path": path, "query": {}, "headers": {}}
    if body is not None:
        request["body"] = body
    return http_v2(request)


def _contact(n: int) -> dict[str, str]:
    return {"name": f"Load {n}", "email": f"load{n}@example.com", "message": f"Message {n}"}


def _truncate(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("TRUNCATE contact_messages, idempotency_keys, contact_rate_limits"))


def _wait_for(condition: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _process_gone(function: Function, pid: int) -> bool:
    out = function.exec_python(f"import os; print(os.path.exists('/proc/{pid}'))")
    return out.strip() == "False"


def test_5000_warm_invocations(function_image: str, load_db: tuple[str, Engine]) -> None:
    url, engine = load_db
    _truncate(engine)
    with running_function(function_image, function_env(url)) as function:
        assert function.wait_ready(_event("GET", "/health"))["statusCode"] == 200
        pid = function.function_pid()
        written: list[str] = []
        statuses: dict[int, int] = {}
        connections: list[int] = []
        rss: dict[str, int] = {}
        started = time.monotonic()
        for n in range(INVOCATIONS):
            kind = n % 3
            if kind == 0:
                event, expected = _event("POST", "/contact", _contact(n)), 202
                # Each message from a visitor of its own: one client would meet the
                # per-client limit after five (tests/test_contact_abuse.py covers that).
                event["requestContext"]["http"]["sourceIp"] = (
                    f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                )
            elif kind == 1:
                event, expected = _event("GET", "/projects"), 200
            else:
                event, expected = _event("GET", "/health"), 200
            response = function.invoke(event)
            status = response.get("statusCode", -1)
            statuses[status] = statuses.get(status, 0) + 1
            assert status == expected, (n, response)
            if kind == 0:
                written.append(json.loads(response["body"])["id"])
            if n == WARMUP:
                rss["after_warmup"] = function.kb(pid, "VmRSS")
            if n % 500 == 0:
                connections.append(_count(engine))
            assert time.monotonic() - started < TIME_BUDGET_S
        elapsed = time.monotonic() - started
        status_file = function.status(pid)
        rss["end"] = int(status_file["VmRSS"].split()[0])
        rss["peak"] = int(status_file["VmHWM"].split()[0])
        connections.append(_count(engine))
        assert function.function_pid() == pid  # one process served them all: no restart
    growth = rss["end"] - rss["after_warmup"]
    print(
        f"\n{INVOCATIONS} invocations in {elapsed:.1f} s "
        f"({1000 * elapsed / INVOCATIONS:.2f} ms each); statuses {statuses}; "
        f"connections sampled {connections}; RSS after warm-up {rss['after_warmup']} kB, "
        f"end {rss['end']} kB (growth {growth} kB), peak {rss['peak']} kB"
    )
    assert set(statuses) == {200, 202}
    assert max(connections) == 1
    assert growth < MAX_RSS_GROWTH_KB
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT id FROM contact_messages"))]
    assert sorted(stored) == sorted(written)  # exactly the rows written, no more, no less
    assert len(written) == (INVOCATIONS + 2) // 3


def test_sigterm_when_idle_disposes_the_engine(
    function_image: str, load_db: tuple[str, Engine]
) -> None:
    url, engine = load_db
    with running_function(function_image, function_env(url)) as function:
        assert function.wait_ready(_event("GET", "/projects"))["statusCode"] == 200
        assert _count(engine) == 1  # the pooled connection
        pid = function.function_pid()
        function.signal(pid, "SIGTERM")
        assert _wait_for(lambda: _process_gone(function, pid))
        assert _wait_for(lambda: _count(engine) == 0)
        assert _wait_for(lambda: SIGTERM_LINE in function.logs())
        assert "Traceback" not in function.logs()


def test_sigterm_during_a_request_lets_it_finish(
    function_image: str, load_db: tuple[str, Engine]
) -> None:
    url, engine = load_db
    _truncate(engine)
    with running_function(function_image, function_env(url)) as function:
        assert function.wait_ready(_event("GET", "/health"))["statusCode"] == 200
        pid = function.function_pid()
        answer: dict[str, Any] = {}

        def post() -> None:
            answer.update(function.invoke(_event("POST", "/contact", _contact(1))))

        with engine.connect() as locker:
            # The INSERT waits on this lock: the request is in flight when SIGTERM arrives.
            locker.execute(text("BEGIN"))
            locker.execute(text("LOCK TABLE contact_messages IN SHARE MODE"))
            request = threading.Thread(target=post, daemon=True)
            request.start()
            assert _wait_for(lambda: _count(engine, "AND wait_event_type = 'Lock'") == 1)
            function.signal(pid, "SIGTERM")
            time.sleep(1.0)
            assert not _process_gone(function, pid)  # shutdown waits for the request
            locker.execute(text("ROLLBACK"))
        request.join(30)
        assert _wait_for(lambda: _process_gone(function, pid))
        assert _wait_for(lambda: SIGTERM_LINE in function.logs())
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM contact_messages"))]
    # It finished: answered 202 and stored exactly once (failing, it would store nothing).
    assert answer.get("statusCode") == 202, answer
    assert ids == [json.loads(answer["body"])["id"]]
    assert _count(engine) == 0
