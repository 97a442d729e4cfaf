"""The contact form: public writes, admin reads, idempotent retries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.data.tables import contact_messages
from tests.client import LambdaClient

MESSAGE = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello!"}


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(contact_messages)).scalar_one())


def test_message_is_stored_and_acknowledged(client: LambdaClient, clean_db: Engine) -> None:
    response = client.post("/contact", MESSAGE)
    assert response.status == 202
    receipt = response.json()
    assert receipt == {"id": receipt["id"], "status": "received"}
    with clean_db.connect() as conn:
        row = conn.execute(select(contact_messages)).mappings().one()
    assert {k: row[k] for k in MESSAGE} == MESSAGE
    assert row["id"] == receipt["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"email": "not-an-email"},
        {"email": "a@b"},
        {"email": "a b@example.com"},
        {"name": ""},
        {"name": "   "},
        {"message": ""},
        {"message": "x" * 5001},
        {"name": "x" * 201},
        {"email": ("x" * 250) + "@example.com"},
        {"extra": "field"},
    ],
)
def test_invalid_message_is_422_and_not_stored(
    client: LambdaClient, clean_db: Engine, change: dict[str, str]
) -> None:
    assert client.post("/contact", {**MESSAGE, **change}).status == 422
    assert _count(clean_db) == 0


def test_admin_lists_messages_newest_first(client: LambdaClient) -> None:
    ids = [client.post("/contact", {**MESSAGE, "message": f"m{i}"}).json()["id"] for i in range(3)]
    page = client.get("/contact", admin=True, query={"limit": "2"}).json()
    assert [m["id"] for m in page["items"]] == ids[::-1][:2]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    first = page["items"][0]
    assert dt.datetime.fromisoformat(first.pop("created_at")).utcoffset() == dt.timedelta(0)
    assert first == {"id": ids[2], **MESSAGE, "message": "m2", "read": False}


def test_listing_messages_needs_the_admin_token(client: LambdaClient) -> None:
    response = client.get("/contact")
    assert (response.status, response.json()) == (401, {"detail": "missing bearer token"})
    assert response.headers["www-authenticate"] == "Bearer"


def test_retry_with_the_same_idempotency_key_writes_once(
    client: LambdaClient, clean_db: Engine
) -> None:
    key = {"idempotency-key": "retry-1"}
    first = client.post("/contact", MESSAGE, headers=key)
    second = client.post("/contact", MESSAGE, headers=key)
    assert (first.status, second.status) == (202, 202)
    assert first.json() == second.json()
    assert _count(clean_db) == 1


def test_reusing_a_key_for_another_body_is_refused(client: LambdaClient, clean_db: Engine) -> None:
    key = {"idempotency-key": "retry-2"}
    assert client.post("/contact", MESSAGE, headers=key).status == 202
    response = client.post("/contact", {**MESSAGE, "message": "different"}, headers=key)
    assert response.status == 422
    assert _count(clean_db) == 1


def test_project_creation_is_idempotent_too(client: LambdaClient) -> None:
    key = {"idempotency-key": "create-1"}
    body = {"slug": "once", "title": "Once"}
    first = client.post("/projects", body, admin=True, headers=key)
    second = client.post("/projects", body, admin=True, headers=key)
    assert (first.status, second.status) == (201, 201)
    assert first.json() == second.json()
    assert client.post("/projects", body, admin=True).status == 409
