"""An idle function keeps its pooled connection while frozen; PostgreSQL's
`idle_session_timeout` (set in the stack's parameter group so an idle Aurora can pause) closes
it from the server side. The next request must be served on a new connection, not fail:
pool_pre_ping finds the closed one and replaces it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def idle_limited_database(database_url: str) -> Iterator[str]:
    name = f"idle_{uuid.uuid4().hex[:8]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '500ms'"))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


def _app_backends(database_url: str, url: str) -> list[int]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db "
                "AND application_name = 'portfolio-backend'"
            ),
            {"db": make_url(url).database},
        ).scalars()
        found = list(pids)
    engine.dispose()
    return found


def test_a_connection_the_server_closed_while_idle_is_replaced(
    make_client: Any, database_url: str, idle_limited_database: str
) -> None:
    client = make_client(database_url=idle_limited_database)
    assert client.get("/health/ready").status == 200
    [first] = _app_backends(database_url, idle_limited_database)
    deadline = time.monotonic() + 10
    while _app_backends(database_url, idle_limited_database):  # the server ends the session
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert client.get("/health/ready").status == 200
    [second] = _app_backends(database_url, idle_limited_database)
    assert second != first
