"""Public reads (app/data/reads.py): autocommit with the role's own timeout, a SET LOCAL
transaction otherwise, and a read that finds its pooled connection dead runs again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from app.data import db_limits, reads
from app.data.db import build_engine
from app.settings import Settings

ROLE_TIMEOUT_MS = 5000  # migration 0004


def _engine(database_url: str, timeout_ms: int) -> Engine:
    settings = Settings(
        database_url=database_url, db_pool_size=1, db_statement_timeout_ms=timeout_ms
    )
    return build_engine(settings)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = _engine(database_url, ROLE_TIMEOUT_MS)
    yield built
    built.dispose()


def _timeout_and_autocommit(conn: Connection) -> tuple[str, bool]:
    shown = conn.exec_driver_sql("SHOW statement_timeout").scalar()
    return str(shown), bool(conn.connection.dbapi_connection.autocommit)  # type: ignore[union-attr]


def test_migration_0004_makes_the_timeout_the_roles_default(database_url: str) -> None:
    plain = create_engine(database_url)  # none of the app's hooks
    with plain.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
    plain.dispose()


def test_with_the_roles_timeout_a_read_runs_in_autocommit(engine: Engine) -> None:
    with reads.reader(engine) as read:
        assert read(_timeout_and_autocommit) == ("5s", True)
    # Back in the pool with autocommit off: a writer's transaction is a transaction.
    with engine.begin() as conn:
        assert _timeout_and_autocommit(conn) == ("5s", False)


def test_another_timeout_is_set_in_a_transaction(database_url: str) -> None:
    other = _engine(database_url, 1500)
    with reads.reader(other) as read:
        assert read(_timeout_and_autocommit) == ("1500ms", False)
    other.dispose()


def test_a_nearer_deadline_lowers_the_timeout(engine: Engine) -> None:
    with db_limits.deadline(time.monotonic() + 3.0), reads.reader(engine) as read:
        shown, autocommit = read(_timeout_and_autocommit)
    assert shown.endswith("ms") and 2000 < int(shown[:-2]) <= 3000, shown
    assert autocommit is False


def test_a_read_on_a_connection_that_died_in_the_pool_runs_again(
    engine: Engine, database_url: str
) -> None:
    def backend(conn: Connection) -> Any:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    with reads.reader(engine) as read:
        first = read(backend)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # as idle_session_timeout or a restart would
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    time.sleep(0.2)
    with reads.reader(engine) as read:
        second = read(backend)
    assert second != first
