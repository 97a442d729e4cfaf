"""What failures show: error bodies are exact sentences (no trace, SQL or setting), and the
logs hold neither contact messages (personal data) nor the admin token nor DB credentials."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from app.data import crud
from tests.client import LambdaClient
from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256
from tests.support import free_port

DB_PASSWORD = "pw-9f1c2e-never-shown"
NO_STORE = "no-store"


def _secrets(url: str) -> list[str]:
    """Strings that must never leave the process: token, digest, credentials, URL, SQL."""
    return [
        ADMIN_TOKEN,
        ADMIN_TOKEN_SHA256,
        DB_PASSWORD,
        url,
        "Traceback",
        "psycopg2",
        "sqlalchemy",
        "SELECT",
        "INSERT",
    ]


def _assert_clean(text_: str, url: str) -> None:
    for secret in _secrets(url):
        assert secret not in text_, f"{secret!r} leaked"


@pytest.fixture
def down_url() -> str:
    return f"postgresql+psycopg2://portfolio:{DB_PASSWORD}@127.0.0.1:{free_port()}/portfolio"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health/ready", None),
        ("GET", "/projects", None),
        ("GET", "/projects/x", None),
        ("POST", "/contact", {"name": "A", "email": "a@example.com", "message": "m"}),
        ("GET", "/contact", None),
        ("POST", "/projects", {"slug": "x", "title": "X"}),
        ("DELETE", "/projects/x", None),
    ],
)
def test_503_bodies_are_exact_and_logs_hold_no_credentials(
    make_client: Any,
    down_url: str,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: Any,
) -> None:
    client: LambdaClient = make_client(database_url=down_url)
    with caplog.at_level(logging.DEBUG):
        response = client.request(method, path, json_body=body, admin=True)
    assert (response.status, response.text) == (
        503,
        '{"detail":"database unavailable, try again shortly"}',
    )
    assert response.headers["cache-control"] == NO_STORE
    _assert_clean(caplog.text, down_url)
    assert "database unavailable: OperationalError" in caplog.text  # the type, not the message


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(f"boom postgresql://portfolio:{DB_PASSWORD}@db SELECT secret"),
        KeyError("SELECT secret FROM settings"),
    ],
)
def test_500_body_is_exact_whatever_the_exception_says(
    make_client: Any,
    clean_db: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    def explode(*_: Any, **__: Any) -> Any:
        raise failure

    monkeypatch.setattr(crud, "list_projects", explode)
    client: LambdaClient = make_client()
    with caplog.at_level(logging.INFO):
        response = client.get("/projects")
    assert (response.status, response.text) == (500, '{"detail":"internal server error"}')
    assert response.headers["cache-control"] == NO_STORE
    assert ADMIN_TOKEN not in caplog.text
    # Logged by type and location only: the message may quote SQL, secrets or user input.
    assert "SELECT secret" not in caplog.text
    assert DB_PASSWORD not in caplog.text
    assert f"unhandled exception: {type(failure).__name__}" in caplog.text


def test_database_error_with_sql_is_a_plain_500(
    make_client: Any,
    clean_db: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A ProgrammingError carries the SQL and the server's message in str(error).
    def bad_sql(conn: Any, **_: Any) -> Any:
        conn.execute(text("SELECT secret_column FROM no_such_table"))

    monkeypatch.setattr(crud, "list_projects", bad_sql)
    client: LambdaClient = make_client()
    with caplog.at_level(logging.INFO):
        response = client.get("/projects")
    assert (response.status, response.text) == (500, '{"detail":"internal server error"}')
    assert "database error: ProgrammingError" in caplog.text
    assert client.get("/health/ready").status == 200  # the connection was rolled back


MARKERS = {
    "name": "Name-7c1a-private",
    "email": "addr-7c1a@private.example",
    "message": "Body-7c1a secret plans",
}


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("accepted", MARKERS),
        ("invalid email", {**MARKERS, "email": "addr-7c1a-invalid"}),
        ("too long", {**MARKERS, "message": "Body-7c1a " + "x" * 6000}),
        ("unknown field", {**MARKERS, "extra": "Extra-7c1a"}),
    ],
)
def test_contact_messages_never_reach_the_logs_at_info(
    client: LambdaClient, caplog: pytest.LogCaptureFixture, case: str, body: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO):
        client.post("/contact", body, headers={"idempotency-key": "k-7c1a"})
        client.get("/contact", admin=True)
    assert caplog.records, "the access log should have logged the requests"
    assert "7c1a" not in caplog.text, case


def test_contact_message_not_logged_when_the_database_is_down(
    make_client: Any, down_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client: LambdaClient = make_client(database_url=down_url)
    with caplog.at_level(logging.INFO):
        assert client.post("/contact", MARKERS).status == 503
    assert "7c1a" not in caplog.text


def test_admin_token_never_logged_on_success(
    client: LambdaClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert client.post("/projects", {"slug": "t", "title": "T"}, admin=True).status == 201
        assert client.patch("/projects/t", {"title": "U"}, admin=True).status == 200
        assert client.get("/contact", admin=True).status == 200
        assert client.delete("/projects/t", admin=True).status == 204
    assert ADMIN_TOKEN not in caplog.text
    assert ADMIN_TOKEN_SHA256 not in caplog.text
