"""What the HTTP host must do, written once and run against a server process
(tests/test_http_host.py) and against the image under podman (tests/image/test_web_image.py).

Every proof is an ordering, not a timing: a request is shown to be waiting on a lock (in
pg_stat_activity) before the next step, and what must answer is shown to answer while the
lock is still held.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello there"}


class Server(Protocol):
    port: int

    def terminate(self) -> None: ...

    def wait(self, timeout: float) -> int: ...

    def logs(self) -> str: ...


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        sent = {"content-type": "application/json", **(headers or {})} if payload else headers
        connection.request(method, path, body=payload, headers=sent or {})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def wait_until_serving(
    port: int, timeout: float = 60, alive: Callable[[], bool] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if request(port, "GET", "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if (alive is not None and not alive()) or time.monotonic() > deadline:
            raise AssertionError("the HTTP host did not answer /health")
        time.sleep(0.1)


def waiting_on_locks(engine: Engine, table: str) -> int:
    """Backends of the service waiting for a lock on `table`."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'portfolio-backend' AND wait_event_type = 'Lock' AND query ILIKE :table"
                ),
                {"table": f"%{table}%"},
            ).scalar_one()
        )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


@contextmanager
def table_locked(engine: Engine, table: str) -> Iterator[Connection]:
    """Hold an ACCESS EXCLUSIVE lock on `table` (reads and writes wait) until the block ends."""
    with engine.connect() as conn:
        conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        try:
            yield conn
        finally:
            conn.rollback()


def in_threads(count: int, call: Callable[[int], Any]) -> tuple[list[threading.Thread], list[Any]]:
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = call(index)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


# -- the scenarios -------------------------------------------------------------------------


def health_and_database_routes_answer(port: int) -> None:
    assert request(port, "GET", "/health") == (200, {"status": "ok"})
    assert request(port, "GET", "/health/ready") == (200, {"status": "ok", "database": "ok"})
    status, page = request(port, "GET", "/projects")
    assert (status, page["total"]) == (200, 0)
    status, receipt = request(port, "POST", "/contact", MESSAGE)
    assert (status, receipt["status"]) == (202, "received")


def health_answers_while_a_request_waits_on_a_lock(port: int, engine: Engine) -> float:
    """Returns /health's latency while the lock is held (reported, not asserted)."""
    with table_locked(engine, "contact_messages"):
        threads, results = in_threads(1, lambda _: request(port, "POST", "/contact", MESSAGE))
        wait_for(lambda: waiting_on_locks(engine, "contact_messages") == 1, "the POST waits")
        started = time.perf_counter()
        assert request(port, "GET", "/health", timeout=10) == (200, {"status": "ok"})
        health_seconds = time.perf_counter() - started
        # Another database request is not queued behind the stuck one either.
        assert request(port, "GET", "/projects", timeout=10)[0] == 200
        # Both answered while the POST was still waiting on the lock.
        assert waiting_on_locks(engine, "contact_messages") == 1
        assert threads[0].is_alive()
    threads[0].join(30)
    assert results[0][0] == 202
    return health_seconds


def concurrent_reads_use_the_whole_pool(port: int, engine: Engine, pool_size: int) -> None:
    with table_locked(engine, "projects"):
        threads, results = in_threads(16, lambda _: request(port, "GET", "/projects"))
        wait_for(lambda: waiting_on_locks(engine, "projects") == pool_size, "the pool is busy")
        time.sleep(0.5)  # no more than the pool's connections ever reach the database
        assert waiting_on_locks(engine, "projects") == pool_size
    for thread in threads:
        thread.join(60)
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [200] * 16


def sigterm_lets_in_flight_requests_finish(server: Server, engine: Engine) -> None:
    with table_locked(engine, "projects"):
        threads, results = in_threads(3, lambda _: request(server.port, "GET", "/projects"))
        wait_for(lambda: waiting_on_locks(engine, "projects") == 3, "3 requests wait")
        server.terminate()
        # New connections are refused once the server has stopped listening.
        wait_for(lambda: _refused(server.port), "new connections are refused", timeout=15)
        assert waiting_on_locks(engine, "projects") == 3
    for thread in threads:
        thread.join(60)
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [200] * 3
    assert server.wait(60) == 0


def _refused(port: int) -> bool:
    try:
        request(port, "GET", "/health", timeout=2)
    except OSError:
        return True
    return False


def forwarded_for_is_ignored_from_an_untrusted_peer(port: int) -> None:
    # Every message comes from the same peer: a header naming other clients must not help.
    statuses = [
        request(port, "POST", "/contact", MESSAGE, {"x-forwarded-for": f"203.0.113.{i}"})[0]
        for i in range(6)
    ]
    assert statuses == [202] * 5 + [429]


def forwarded_for_is_read_from_a_trusted_proxy(port: int) -> None:
    # The proxy's own (right-most) entry names the client; what the client put before it
    # does not.
    spoofed = [
        request(
            port, "POST", "/contact", MESSAGE, {"x-forwarded-for": f"10.0.0.{i}, 198.51.100.50"}
        )[0]
        for i in range(6)
    ]
    assert spoofed == [202] * 5 + [429]
    others = [
        request(port, "POST", "/contact", MESSAGE, {"x-forwarded-for": f"198.51.100.{i}"})[0]
        for i in range(1, 4)
    ]
    assert others == [202] * 3


def logs_are_json_with_an_access_log(logs: str) -> None:
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert records, logs
    access = [r for r in records if r.get("logger") == "app.access"]
    assert any(r["path"] == "/health" and r["status"] == 200 for r in access), logs
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records if "level" in r)
