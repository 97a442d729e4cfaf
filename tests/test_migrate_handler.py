"""`handler.migrate` as CloudFormation drives it: a custom resource answered at ResponseURL.

A local HTTP server stands in for the pre-signed S3 URL CloudFormation puts in the event
(no AWS account exists here); the database is the suite's real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket
from tests.conftest import lambda_context
from tests.support import free_port
from tests.test_migrations import HEAD


@pytest.fixture
def response_url() -> Iterator[str]:
    with response_bucket() as url:
        yield url


def _event(request_type: str, response_url: str) -> dict[str, Any]:
    return custom_resource_event(response_url, request_type)


def _answer() -> dict[str, Any]:
    (put,) = ResponseBucket.received
    return dict(put["body"])


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_migrate_and_report_the_revision(
    make_client: Any, response_url: str, request_type: str
) -> None:
    adapter = make_client().adapter
    result = adapter.migrate(_event(request_type, response_url), lambda_context())
    assert result["current"] == HEAD
    answer = _answer()
    assert (answer["Status"], answer["RequestId"], answer["Data"]) == (
        "SUCCESS",
        f"req-{request_type}",
        {"Current": HEAD, "Applied": ""},
    )


def test_delete_leaves_the_database_alone(make_client: Any, response_url: str) -> None:
    # A database that cannot be reached proves the delete never tried.
    adapter = make_client(database_url="postgresql+psycopg2://x@127.0.0.1:1/x").adapter
    adapter.migrate(_event("Delete", response_url), lambda_context())
    answer = _answer()
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", "DatabaseMigration-0a1b")


def test_a_failed_migration_is_reported_not_left_waiting(
    make_client: Any, response_url: str
) -> None:
    port = free_port()
    adapter = make_client(database_url=f"postgresql+psycopg2://x@127.0.0.1:{port}/x").adapter
    # Connection attempts are retried while the invocation has time (a resuming Aurora):
    # with 5 s left (2.5 s of work budget), there is time for one, not for a second.
    context = lambda_context(remaining_ms=5_000)
    result = adapter.migrate(_event("Update", response_url), context)
    answer = _answer()
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("OperationalError: ")
    assert result == {"error": answer["Reason"]}


def test_a_database_ahead_of_the_image_is_left_as_is(
    make_client: Any, database_url: str, response_url: str, db_engine: Any
) -> None:
    adapter = make_client().adapter
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    try:
        adapter.migrate(_event("Update", response_url), lambda_context())
    finally:
        with db_engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD})
    answer = _answer()
    assert (answer["Status"], answer["Data"]["Current"]) == ("SUCCESS", "9999_future")


def test_a_plain_invocation_returns_what_was_applied(make_client: Any) -> None:
    assert make_client().adapter.migrate({}, lambda_context()) == {
        "previous": HEAD,
        "current": HEAD,
        "applied": [],
    }
