"""Idempotency keys: scoped to the caller, expiring after 24 hours, cleaned up in bounded
batches (issue 10, item 4). The races are in tests/reliability/test_concurrency.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from app.data.tables import contact_messages, idempotency_keys
from tests.client import LambdaClient

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello"}
KEY = {"idempotency-key": "9b2f0c1e-5d7a-4c3b-8e6f-0a1b2c3d4e5f"}


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_another_caller_reusing_a_key_gets_its_own_write(
    client: LambdaClient, clean_db: Engine
) -> None:
    first = client.post("/contact", MESSAGE, headers=KEY, source_ip="198.51.100.1")
    same_body = client.post("/contact", MESSAGE, headers=KEY, source_ip="198.51.100.2")
    other_body = client.post(
        "/contact", {**MESSAGE, "message": "Mine"}, headers=KEY, source_ip="198.51.100.3"
    )
    assert (first.status, same_body.status, other_body.status) == (202, 202, 202)
    assert len({first.json()["id"], same_body.json()["id"], other_body.json()["id"]}) == 3
    assert _count(clean_db, contact_messages) == 3
    # The first caller's retry still replays its own answer.
    retry = client.post("/contact", MESSAGE, headers=KEY, source_ip="198.51.100.1")
    assert (retry.status, retry.json()) == (202, first.json())


def test_keys_are_not_stored_in_the_clear(client: LambdaClient, clean_db: Engine) -> None:
    client.post("/contact", MESSAGE, headers=KEY, source_ip="198.51.100.1")
    with clean_db.connect() as conn:
        stored = conn.execute(select(idempotency_keys.c.key)).scalar_one()
    assert KEY["idempotency-key"] not in stored
    assert "198.51.100.1" not in stored


def _age_every_key(engine: Engine, hours: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE idempotency_keys SET created_at = created_at - make_interval(secs => :s)"),
            {"s": hours * 3600},
        )


def test_a_key_expires_after_24_hours(client: LambdaClient, clean_db: Engine) -> None:
    first = client.post("/contact", MESSAGE, headers=KEY)
    _age_every_key(clean_db, 23.9)
    assert client.post("/contact", MESSAGE, headers=KEY).json() == first.json()
    assert client.post("/contact", {**MESSAGE, "message": "x"}, headers=KEY).status == 422
    _age_every_key(clean_db, 0.2)
    again = client.post("/contact", {**MESSAGE, "message": "x"}, headers=KEY)
    assert again.status == 202
    assert again.json()["id"] != first.json()["id"]
    assert _count(clean_db, contact_messages) == 2
    assert _count(clean_db, idempotency_keys) == 1


def test_expired_keys_are_deleted_in_bounded_batches(
    client: LambdaClient, clean_db: Engine
) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with clean_db.begin() as conn:
        conn.execute(
            insert(idempotency_keys),
            [
                {
                    "key": f"old-{i}",
                    "scope": "POST /contact",
                    "request_hash": "0" * 64,
                    "status_code": 202,
                    "response": {},
                    "created_at": old,
                }
                for i in range(25)
            ],
        )
    client.post("/contact", MESSAGE)  # no key: no cleanup either
    assert _count(clean_db, idempotency_keys) == 25
    client.post("/contact", MESSAGE, headers=KEY)
    assert _count(clean_db, idempotency_keys) == 25 - 10 + 1
    for n in range(2):
        client.post("/contact", MESSAGE, headers={"idempotency-key": f"k-{n}"})
    assert _count(clean_db, idempotency_keys) == 3


def test_keys_work_on_the_sqlite_default_too(make_client: Any, tmp_path: Any) -> None:
    from sqlalchemy import create_engine

    from app.data.migrate import migrate

    url = f"sqlite:///{tmp_path}/local.db"
    migrate(create_engine(url))
    client = make_client(database_url=url)
    first = client.post("/contact", MESSAGE, headers=KEY)
    again = client.post("/contact", MESSAGE, headers=KEY)
    other = client.post("/contact", {**MESSAGE, "message": "x"}, headers=KEY)
    assert (first.status, again.status, other.status) == (202, 202, 422)
    assert first.json() == again.json()
    project = {"slug": "a", "title": "A"}
    assert client.post("/projects", project, admin=True).status == 201
    assert client.post("/projects", project, admin=True).status == 409
    assert client.delete("/projects/a", admin=True).status == 204
    assert client.delete("/projects/a", admin=True).status == 404
