"""The owner's inbox: unread filter, read/unread, delete; admin only, via handler.handler."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.data.tables import contact_messages
from tests.client import LambdaClient

MESSAGE = {"name": "Ada Lovelace", "email": "ada@example.com", "message": "Hello!"}
UNKNOWN = "0" * 32


def _send(client: LambdaClient, text: str) -> str:
    response = client.post("/contact", {**MESSAGE, "message": text})
    assert response.status == 202, response.text
    return str(response.json()["id"])


def _ids(client: LambdaClient, **query: str) -> list[str]:
    response = client.get("/contact", admin=True, query=query)
    assert response.status == 200, response.text
    return [m["id"] for m in response.json()["items"]]


def test_messages_arrive_unread_and_can_be_marked(client: LambdaClient) -> None:
    first, second = _send(client, "one"), _send(client, "two")
    assert _ids(client, unread="true") == [second, first]

    marked = client.patch(f"/contact/{first}", {"read": True}, admin=True)
    assert marked.status == 200
    assert (marked.json()["id"], marked.json()["read"]) == (first, True)
    assert marked.headers["cache-control"] == "no-store"
    assert _ids(client, unread="true") == [second]
    assert _ids(client, unread="false") == [first]
    assert _ids(client) == [second, first]
    page = client.get("/contact", admin=True, query={"unread": "true"}).json()
    assert page["total"] == 1

    assert client.patch(f"/contact/{first}", {"read": False}, admin=True).json()["read"] is False
    assert _ids(client, unread="true") == [second, first]


def test_deleting_a_message_erases_it(client: LambdaClient, clean_db: Engine) -> None:
    kept, erased = _send(client, "keep"), _send(client, "erase me")
    response = client.delete(f"/contact/{erased}", admin=True)
    assert (response.status, response.text) == (204, "")
    assert _ids(client) == [kept]
    with clean_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contact_messages)).scalar() == 1
    assert client.delete(f"/contact/{erased}", admin=True).status == 404


@pytest.mark.parametrize(("method", "body"), [("PATCH", {"read": True}), ("DELETE", None)])
def test_unknown_messages_are_404(client: LambdaClient, method: str, body: object) -> None:
    response = client.request(method, f"/contact/{UNKNOWN}", json_body=body, admin=True)
    assert (response.status, response.json()) == (404, {"detail": f"message '{UNKNOWN}' not found"})


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/contact/not-an-id", {"read": True}, 422),
        (f"/contact/{UNKNOWN}", {"read": "maybe"}, 422),
        (f"/contact/{UNKNOWN}", {}, 422),
        (f"/contact/{UNKNOWN}", {"read": True, "spam": 1}, 422),
    ],
)
def test_bad_inbox_requests_are_422(
    client: LambdaClient, path: str, body: object, status: int
) -> None:
    assert client.patch(path, body, admin=True).status == status


def test_the_inbox_needs_the_admin_token(client: LambdaClient, clean_db: Engine) -> None:
    message_id = _send(client, "private")
    assert client.patch(f"/contact/{message_id}", {"read": True}).status == 401
    assert client.delete(f"/contact/{message_id}").status == 401
    assert client.get("/contact", query={"unread": "true"}).status == 401
    with clean_db.connect() as conn:
        row = conn.execute(select(contact_messages.c.read)).one()
    assert row.read is False
