"""Migrations wait for a database that is resuming (Aurora Serverless v2 after a pause), within
the invocation's remaining time, and fail cleanly, reported to CloudFormation, when it does not
resume in time. tests/resume_proxy.py stands in for the resuming instance: it accepts at once
and forwards nothing until the resume is over."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket
from tests.conftest import lambda_context
from tests.resume_proxy import resuming_proxy
from tests.test_migrations import ALL

pytestmark = pytest.mark.slow  # each case waits out real connect timeouts (~5 s)

CONNECT_TIMEOUT = 2  # libpq's shortest


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    name = f"resume_{uuid.uuid4().hex[:8]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


def test_migrate_waits_for_a_resuming_database(
    make_client: Any, empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(empty_database)
    with resuming_proxy(int(url.port or 5432), resume_seconds=5) as proxy:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        adapter = make_client(database_url=through, db_connect_timeout=CONNECT_TIMEOUT).adapter
        result = adapter.migrate({}, lambda_context(remaining_ms=60_000))
    assert result["applied"] == ALL
    assert proxy.accepted >= 2  # the first attempts timed out while it resumed
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == proxy.accepted - 1
    # The connect timeout is enforced on the client side (app/data/db_wait.py).
    assert retries[0].startswith("database not reachable (attempt 1, WaitTimeout)")


def test_migrate_gives_up_in_time_and_reports_failed(make_client: Any, empty_database: str) -> None:
    url = make_url(empty_database)
    with (
        resuming_proxy(int(url.port or 5432), resume_seconds=120) as proxy,
        response_bucket() as bucket,
    ):
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        adapter = make_client(database_url=through, db_connect_timeout=CONNECT_TIMEOUT).adapter
        started = time.monotonic()
        result = adapter.migrate(
            custom_resource_event(bucket, "Update"), lambda_context(remaining_ms=12_000)
        )
        elapsed = time.monotonic() - started
    assert elapsed < 12  # reported while the function still ran
    assert proxy.accepted >= 2
    (put,) = ResponseBucket.received
    assert put["body"]["Status"] == "FAILED"
    assert put["body"]["Reason"].startswith("OperationalError: ")
    assert result == {"error": put["body"]["Reason"]}
