"""Database errors that are not outages (issue 10, items 9 and 12): a missing table is a
server fault (500), not "try again shortly" (503); and what the server says about a failed
statement, or the values it was given, never reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.errors import is_outage
from tests.client import LambdaClient

MARKER = "marker-5e0b-user-data"
INTERNAL = (500, {"detail": "internal server error"})


@pytest.fixture
def projects_renamed(clean_db: Engine) -> Iterator[None]:
    with clean_db.begin() as conn:
        conn.execute(text("ALTER TABLE projects RENAME TO projects_away"))
    try:
        yield
    finally:
        with clean_db.begin() as conn:
            conn.execute(text("ALTER TABLE projects_away RENAME TO projects"))


def test_a_missing_table_on_postgresql_is_a_500(
    client: LambdaClient, projects_renamed: None
) -> None:
    response = client.get("/projects")
    assert (response.status, response.json()) == INTERNAL
    assert "retry-after" not in response.headers


def test_a_missing_table_on_sqlite_is_a_500(make_client: Any, tmp_path: Any) -> None:
    client = make_client(database_url=f"sqlite:///{tmp_path}/never-migrated.db")
    response = client.get("/projects")
    assert (response.status, response.json()) == INTERNAL


@pytest.fixture
def failing_insert(clean_db: Engine) -> Iterator[None]:
    """A trigger that fails every contact insert the way an unexpected server error would."""
    with clean_db.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'refused: %', NEW.message USING ERRCODE = 'XX000'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER fail_insert BEFORE INSERT ON contact_messages "
                "FOR EACH ROW EXECUTE FUNCTION fail_insert()"
            )
        )
    try:
        yield
    finally:
        with clean_db.begin() as conn:
            conn.execute(text("DROP TRIGGER fail_insert ON contact_messages"))
            conn.execute(text("DROP FUNCTION fail_insert()"))


def test_an_unexpected_database_error_logs_neither_values_nor_server_message(
    client: LambdaClient, failing_insert: None, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"name": "Ada", "email": "ada@example.com", "message": MARKER}
    with caplog.at_level(logging.DEBUG):
        response = client.post("/contact", body)
    assert (response.status, response.json()) == INTERNAL
    assert "database error: InternalError" in caplog.text
    assert "XX000" in caplog.text  # the SQLSTATE is enough to diagnose
    assert MARKER not in caplog.text
    assert "Ada" not in caplog.text


def test_the_engine_hides_parameters(client: LambdaClient, database_url: str) -> None:
    from app.data.db import build_engine
    from app.settings import Settings

    assert build_engine(Settings(database_url=database_url)).hide_parameters
    assert build_engine(Settings(database_url="sqlite://")).hide_parameters


@pytest.mark.parametrize(
    ("sqlstate", "outage"),
    [
        ("08006", True),  # connection failure
        ("57P01", True),  # admin shutdown
        ("57014", True),  # statement timeout
        ("53300", True),  # too many connections
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock
        ("55P03", True),  # lock not available
        ("42P01", False),  # undefined table
        ("42703", False),  # undefined column
        ("XX000", False),  # internal error
    ],
)
def test_which_sqlstates_are_outages(sqlstate: str, outage: bool) -> None:
    from psycopg2 import errors
    from sqlalchemy.exc import DBAPIError

    cls = errors.lookup(sqlstate)
    error = DBAPIError.instance("SELECT 1", {}, cls("x"), Exception)
    assert is_outage(error) is outage


# Under `sam local` (SAM CLI sets AWS_SAM_LOCAL=true; never on AWS) the first step runs with no
# database: the 503 says how to start one (docs/workflows.md), instead of "try again shortly".
NO_SUCH_HOST = "postgresql+psycopg2://portfolio:portfolio@db.invalid:5432/portfolio"


def test_under_sam_local_the_503_says_how_to_start_the_database(make_client: Any) -> None:
    local = make_client(database_url=NO_SUCH_HOST, aws_sam_local=True).get("/projects")
    assert local.status == 503
    assert local.json() == {
        "detail": "database unavailable: under sam local, start the Compose stack's database "
        "(docker compose up -d db) and add --docker-network portfolio-local to the sam command"
    }
    assert local.headers["retry-after"] == "1"
    deployed = make_client(database_url=NO_SUCH_HOST).get("/projects")
    assert deployed.json() == {"detail": "database unavailable, try again shortly"}
