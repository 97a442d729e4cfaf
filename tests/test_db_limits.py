"""Time limits on database work (app/data/db_limits.py): the statement timeout, set per transaction,
and the request deadline taken from the Lambda invocation's remaining time."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import Engine

from app.data import db_limits
from app.hosts import lambda_host
from scripts.generate_events import http_v2
from tests.conftest import lambda_context

UNAVAILABLE = (503, {"detail": "database unavailable, try again shortly"})
CONTACT = {"name": "A", "email": "a@example.com", "message": "hello"}


def _post_contact(adapter: Any, context: SimpleNamespace) -> tuple[int, Any, float]:
    event = http_v2({"method": "POST", "path": "/contact", "body": CONTACT})
    started = time.monotonic()
    response = adapter.handle(event, context)
    return response["statusCode"], json.loads(response["body"]), time.monotonic() - started


def test_a_request_ends_by_the_invocation_deadline_not_the_statement_timeout(
    make_client: Any, clean_db: Engine
) -> None:
    # A 30 s statement timeout in a function with 1.5 s left: the deadline (that less the
    # 1 s margin) must end the blocked write, with a JSON 503 while the function still runs.
    adapter = make_client(db_statement_timeout_ms=30_000).adapter
    # A pooled connection first: 1.5 s left is too little to start a connect (see below).
    assert _post_contact(adapter, lambda_context(remaining_ms=30_000))[0] == 202
    with clean_db.connect() as conn:
        conn.execute(text("LOCK TABLE contact_messages IN SHARE MODE"))
        status, body, elapsed = _post_contact(adapter, lambda_context(remaining_ms=1_500))
        conn.rollback()
    assert (status, body) == UNAVAILABLE
    assert elapsed < 5  # ended by the deadline, long before the 30 s statement timeout
    # The next invocation, with time to spare, writes normally.
    assert _post_contact(adapter, lambda_context(remaining_ms=30_000))[0] == 202


def test_no_time_left_is_a_503_without_touching_the_database(
    make_client: Any, clean_db: Engine
) -> None:
    adapter = make_client().adapter
    status, body, _ = _post_contact(
        adapter, lambda_context(remaining_ms=int(lambda_host.MARGIN_SECONDS * 1000) - 1)
    )
    assert (status, body) == UNAVAILABLE
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contact_messages")).scalar() == 0


@pytest.fixture
def limited(database_url: str) -> Any:
    engine = create_engine(database_url)
    db_limits.install(engine, statement_timeout_ms=500)
    yield engine
    engine.dispose()


def test_a_connect_is_not_started_with_less_than_libpqs_minimum_left(database_url: str) -> None:
    # libpq waits at least 2 s for a connect whatever connect_timeout says: with 1.5 s left
    # a connect would overrun the deadline (it used to, by up to 0.5 s), so none is started.
    engine = create_engine(database_url, connect_args={"connect_timeout": 10})
    db_limits.install(engine, statement_timeout_ms=500)
    try:
        with (
            db_limits.deadline(time.monotonic() + 1.5),
            pytest.raises(db_limits.DeadlineExceeded, match="too little time left"),
        ):
            engine.connect()
        with db_limits.deadline(time.monotonic() + 2.5), engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_the_deadline_bounds_statements_that_each_fit_their_timeout(limited: Engine) -> None:
    # Each statement takes 0.2 s, under the 0.5 s statement timeout; together they would take
    # 2 s. The deadline, 0.7 s away, ends the fourth (the third on a slow machine), either
    # on the server (a lowered statement timeout) or before sending it (no time left).
    done = 0
    started = time.monotonic()
    with (
        pytest.raises((exc.OperationalError, db_limits.DeadlineExceeded)),
        limited.begin() as conn,  # connected before the deadline: this is about statements
        db_limits.deadline(time.monotonic() + 0.7),
    ):
        for _ in range(10):
            conn.execute(text("SELECT pg_sleep(0.2)"))
            done += 1
    assert 2 <= done <= 3
    assert time.monotonic() - started < 1.5  # 2 s of statements were cut short


def test_past_the_deadline_no_statement_is_sent(limited: Engine) -> None:
    with limited.begin() as conn:
        with db_limits.deadline(time.monotonic() - 0.1), pytest.raises(db_limits.DeadlineExceeded):
            conn.execute(text("SELECT 1"))
        # Outside the deadline's block, the same transaction goes on.
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_the_statement_timeout_holds_in_every_transaction(limited: Engine) -> None:
    # SET LOCAL ends with its transaction: each new one (autobegun after a commit too)
    # must get it again, and nothing is left at session level for a pooler to pass on.
    with limited.connect() as conn:
        for _ in range(3):
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "500ms"
            conn.commit()
        conn.execute(text("SELECT 1"))
        conn.rollback()
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "500ms"
    raw = limited.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SHOW statement_timeout")  # outside SQLAlchemy: the session's value,
        assert cursor.fetchone() == ("5s",)  # the role's default (migration 0004), untouched
    finally:
        raw.close()


def test_the_timeout_is_set_for_server_side_cursors_too(limited: Engine) -> None:
    # A streamed result uses a named (server-side) cursor, which cannot run SET itself.
    with limited.connect() as conn:
        streamed = conn.execution_options(stream_results=True).execute(
            text("SELECT current_setting('statement_timeout')")
        )
        assert streamed.scalar() == "500ms"
