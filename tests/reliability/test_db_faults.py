"""Database faults against a real PostgreSQL the test controls, through the Lambda handler:
down, hung, every backend killed, a backend killed mid-write, a statement past its timeout."""

from __future__ import annotations

import time
from typing import Any

from tests.client import LambdaClient
from tests.reliability.conftest import FaultDB, when

UNAVAILABLE = (503, {"detail": "database unavailable, try again shortly"})
CONNECT_TIMEOUT = 2
PROJECT = {"slug": "atomic", "title": "Atomic", "tags": ["a", "b", "c"], "published": True}


def _contact(n: int) -> dict[str, str]:
    return {"name": f"Sender {n}", "email": f"s{n}@example.com", "message": f"Message {n}"}


def _client(make_client: Any, faults: FaultDB, **overrides: Any) -> LambdaClient:
    settings = {
        "database_url": faults.url,
        "db_connect_timeout": CONNECT_TIMEOUT,
        # These tests send many messages from one client; the per-client limit is not theirs.
        "contact_rate_limit": 10_000,
        **overrides,
    }
    client: LambdaClient = make_client(**settings)
    return client


def _assert_unavailable(response: Any) -> None:
    assert (response.status, response.json()) == UNAVAILABLE
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"


def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_database_down_at_cold_start_then_back(make_client: Any, faults: FaultDB) -> None:
    faults.cluster.stop()
    client = _client(make_client, faults)  # INIT while the database is down
    for path in ("/projects", "/health/ready", "/projects/atomic"):
        response, elapsed = _timed(lambda p=path: client.get(p))
        _assert_unavailable(response)
        assert elapsed < CONNECT_TIMEOUT + 1
    write, _ = _timed(lambda: client.post("/contact", _contact(1)))
    _assert_unavailable(write)
    assert client.get("/health").status == 200  # the process keeps serving
    faults.ensure_running()
    assert client.get("/health/ready").status == 200  # no restart needed
    assert client.post("/contact", _contact(2)).status == 202
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 1


def test_database_down_at_request_time_then_back(make_client: Any, faults: FaultDB) -> None:
    client = _client(make_client, faults)
    assert client.post("/contact", _contact(1)).status == 202  # a pooled connection now
    faults.cluster.stop()
    for n in range(5):
        response, elapsed = _timed(lambda n=n: client.post("/contact", _contact(100 + n)))
        _assert_unavailable(response)
        assert elapsed < CONNECT_TIMEOUT + 1
        assert client.get("/health").status == 200
    faults.ensure_running()
    assert client.get("/projects").status == 200
    assert client.post("/contact", _contact(2)).status == 202
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 2


def test_hung_database_fails_within_the_connect_timeout(make_client: Any, faults: FaultDB) -> None:
    # A stopped postmaster still completes TCP handshakes (the kernel does), but never
    # answers the startup packet: only libpq's connect_timeout can end the attempt.
    client = _client(make_client, faults, db_connect_timeout=1)
    with faults.paused():
        response, elapsed = _timed(lambda: client.get("/projects"))
        _assert_unavailable(response)
        assert 0.9 < elapsed < 1 + 1.5
        assert client.get("/health").status == 200
    assert client.get("/projects").status == 200


def test_every_backend_killed_between_invocations(make_client: Any, faults: FaultDB) -> None:
    client = _client(make_client, faults)
    killed = 0
    for n in range(20):
        killed += faults.terminate_app_backends()
        response = client.post("/contact", _contact(n)) if n % 2 else client.get("/projects")
        assert response.status in (200, 202), response.text  # pre-ping replaced it
    assert killed >= 19  # every cycle but the first had a pooled connection to kill
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 10


def _kill_when_app_waits_on_a_lock(faults: FaultDB, seen: list[tuple[str, bool]]) -> Any:
    """Kill the app's backend once it waits on the lock; record (statement, wrote already)."""

    def waiting() -> bool:
        rows = faults.scalar(
            "SELECT json_agg(json_build_array(query, backend_xid IS NOT NULL)) "
            "FROM pg_stat_activity WHERE application_name = 'portfolio-backend' "
            "AND datname = 'faults' AND wait_event_type = 'Lock'"
        )
        seen.extend(tuple(row) for row in rows or ())  # type: ignore[attr-defined]
        return bool(rows)

    return when(waiting, faults.terminate_app_backends)


def _killed_while_waiting_on(faults: FaultDB, table: str, send: Any) -> tuple[str, bool]:
    """Lock `table`, send the request, kill its backend once it waits on the lock; the
    request must answer 503. Returns the blocked statement and whether it had written."""
    seen: list[tuple[str, bool]] = []
    with faults.table_locked(table):
        killer = _kill_when_app_waits_on_a_lock(faults, seen)
        response = send()
        killer.join()
    _assert_unavailable(response)
    [(statement, wrote)] = seen
    return statement, wrote


def test_project_write_killed_midway_leaves_nothing(make_client: Any, faults: FaultDB) -> None:
    client = _client(make_client, faults)
    key = {"idempotency-key": "create-atomic"}
    # The project row is inserted, then the tags wait on the lock; the backend dies there.
    statement, wrote = _killed_while_waiting_on(
        faults, "project_tags", lambda: client.post("/projects", PROJECT, admin=True, headers=key)
    )
    # Killed mid-write: blocked on the tags, with the project row already written (an xid).
    assert statement.startswith("DELETE FROM project_tags")
    assert wrote
    assert faults.scalar("SELECT count(*) FROM projects") == 0
    assert faults.scalar("SELECT count(*) FROM project_tags") == 0
    assert faults.scalar("SELECT count(*) FROM idempotency_keys") == 0
    # The client retries with the same key: written once, then replayed, never twice.
    first = client.post("/projects", PROJECT, admin=True, headers=key)
    again = client.post("/projects", PROJECT, admin=True, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert first.json() == again.json()
    assert first.json()["tags"] == ["a", "b", "c"]
    assert faults.scalar("SELECT count(*) FROM projects") == 1
    assert faults.scalar("SELECT count(*) FROM project_tags") == 3


def test_contact_write_killed_midway_then_retried_once(make_client: Any, faults: FaultDB) -> None:
    client = _client(make_client, faults)
    key = {"idempotency-key": "contact-1"}
    # The idempotency key is claimed (a row written), then the message waits on the lock.
    statement, wrote = _killed_while_waiting_on(
        faults, "contact_messages", lambda: client.post("/contact", _contact(1), headers=key)
    )
    assert statement.startswith("INSERT INTO contact_messages")
    assert wrote
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 0
    assert faults.scalar("SELECT count(*) FROM idempotency_keys") == 0
    receipts = [client.post("/contact", _contact(1), headers=key) for _ in range(3)]
    assert [r.status for r in receipts] == [202, 202, 202]
    assert len({r.json()["id"] for r in receipts}) == 1
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 1


def test_statement_timeout_is_503_and_the_connection_lives_on(
    make_client: Any, faults: FaultDB
) -> None:
    client = _client(make_client, faults, db_statement_timeout_ms=500)
    assert client.post("/contact", _contact(1)).status == 202
    [(pid_before, _, _)] = faults.app_backends()
    with faults.table_locked("contact_messages"):
        response, elapsed = _timed(lambda: client.post("/contact", _contact(2)))
    _assert_unavailable(response)
    assert 0.5 <= elapsed < 2.5
    assert client.post("/contact", _contact(3)).status == 202
    [(pid_after, _, _)] = faults.app_backends()
    assert pid_after == pid_before  # the same connection, rolled back and reused
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 2
