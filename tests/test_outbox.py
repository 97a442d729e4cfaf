"""The contact outbox (app/fallback/outbox.py): messages sent while the database is away are
answered at once, kept in the real local S3 server, and reach the inbox and the owner's
notification exactly once when the database is back."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from app.aws import metrics
from app.fallback import outbox
from app.settings import Settings
from tests.client import LambdaClient
from tests.resume_proxy import ResumingProxy, resuming_proxy
from tests.s3_server import AWAKE

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello while you sleep."}
RECEIVED = f'"{metrics.CONTACT_MESSAGE_RECEIVED}":1'


@pytest.fixture
def paused(database_url: str) -> Iterator[tuple[str, ResumingProxy]]:
    url = make_url(database_url)
    with resuming_proxy(int(url.port or 5432), resume_seconds=120) as proxy:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy


def _inbox(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, message FROM contact_messages"))]


def _notifications(capsys: pytest.CaptureFixture[str]) -> int:
    return capsys.readouterr().out.count(RECEIVED)


def test_a_message_sent_while_away_reaches_the_inbox_once(
    make_client: Any,
    bucket: Any,
    clean_db: Engine,
    paused: tuple[str, ResumingProxy],
    capsys: pytest.CaptureFixture[str],
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    sent = away.post("/contact", MESSAGE)
    assert (sent.status, sent.headers["x-content-source"]) == (202, "outbox"), sent.text
    message_id = sent.json()["id"]
    assert paused[1].resumed_at is not None and paused[1].resumed_at > time.monotonic()
    assert len(bucket.store.list(outbox.PREFIX)) == 1
    assert _inbox(clean_db) == []
    assert _notifications(capsys) == 0  # not stored yet: nobody is told

    owner: LambdaClient = make_client(**bucket.settings, **AWAKE)
    for _ in range(2):
        inbox = owner.get("/contact", admin=True)
        assert [m["id"] for m in inbox.json()["items"]] == [message_id]
    assert _inbox(clean_db) == [(message_id, MESSAGE["message"])]
    assert bucket.store.list(outbox.PREFIX) == []
    assert _notifications(capsys) == 1


def test_the_database_coming_back_moves_the_message_in_without_another_request(
    make_client: Any,
    bucket: Any,
    clean_db: Engine,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The connection attempt left running resumes the database, rolls its own copy back
    (the outbox has the message) and drains the outbox: stored once, notified once."""
    url = make_url(database_url)
    with resuming_proxy(int(url.port or 5432), resume_seconds=1) as proxy:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        away: LambdaClient = make_client(database_url=through, **bucket.settings)
        sent = away.post("/contact", MESSAGE)
        assert sent.status == 202
        assert proxy.resumed_at is not None and proxy.resumed_at > time.monotonic()
        deadline = time.monotonic() + 10
        while _inbox(clean_db) == [] and time.monotonic() < deadline:
            time.sleep(0.1)
    assert _inbox(clean_db) == [(sent.json()["id"], MESSAGE["message"])]
    assert bucket.store.list(outbox.PREFIX) == []
    assert _notifications(capsys) == 1


def test_concurrent_drains_store_each_message_once(
    make_client: Any, bucket: Any, clean_db: Engine, paused: tuple[str, ResumingProxy]
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    sent = []
    for i in range(24):
        answer = away.post("/contact", {**MESSAGE, "message": f"#{i}"}, source_ip=f"10.0.0.{i}")
        assert answer.status == 202
        sent.append(answer.json()["id"])
    assert len(bucket.store.list(outbox.PREFIX)) == 24

    settings = Settings(database_url=clean_db.url.render_as_string(hide_password=False))
    streams = [io.StringIO() for _ in range(4)]
    barrier = threading.Barrier(len(streams))
    stored: list[int] = []

    def drain(stream: io.StringIO) -> None:
        barrier.wait()
        stored.append(outbox.drain(clean_db, bucket.store, metrics.Metrics("f", stream), settings))

    threads = [threading.Thread(target=drain, args=(s,)) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(message_id for message_id, _ in _inbox(clean_db)) == sorted(sent)
    assert sum(stored) == 24
    assert sum(s.getvalue().count(RECEIVED) for s in streams) == 24
    assert bucket.store.list(outbox.PREFIX) == []


def test_the_idempotency_key_holds_across_both_paths(
    make_client: Any, bucket: Any, clean_db: Engine, paused: tuple[str, ResumingProxy]
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    awake: LambdaClient = make_client(**bucket.settings, **AWAKE)
    key = {"idempotency-key": "visit-1"}
    first = away.post("/contact", MESSAGE, headers=key)
    assert first.status == 202
    message_id = first.json()["id"]
    # A retry while the database is still away, and one that reaches the awake database
    # before the outbox is drained: both replay the first answer.
    assert away.post("/contact", MESSAGE, headers=key).json() == first.json()
    assert awake.post("/contact", MESSAGE, headers=key).json() == first.json()
    for client in (away, awake):
        reused = client.post("/contact", {**MESSAGE, "message": "other"}, headers=key)
        assert reused.status == 422
    assert len(bucket.store.list(outbox.PREFIX)) == 1
    assert _inbox(clean_db) == []
    # Drained: the key's answer is now the database's.
    assert [m["id"] for m in awake.get("/contact", admin=True).json()["items"]] == [message_id]
    assert awake.post("/contact", MESSAGE, headers=key).json() == first.json()
    assert away.post("/contact", MESSAGE, headers=key).json() == first.json()
    assert _inbox(clean_db) == [(message_id, MESSAGE["message"])]


def test_the_honeypot_still_applies_while_away(
    make_client: Any,
    bucket: Any,
    clean_db: Engine,
    paused: tuple[str, ResumingProxy],
    capsys: pytest.CaptureFixture[str],
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    answer = away.post("/contact", {**MESSAGE, "website": "https://spam.example"})
    assert answer.status == 202
    assert bucket.store.list(outbox.PREFIX) == []
    assert f'"{metrics.CONTACT_HONEYPOT}":1' in capsys.readouterr().out


def test_the_per_client_limit_holds_while_away_and_after(
    make_client: Any, bucket: Any, clean_db: Engine, paused: tuple[str, ResumingProxy]
) -> None:
    """While away: at most CONTACT_RATE_LIMIT messages waiting per client. Drained, they
    count in the database's window, so the limit holds across the outage too."""
    limit = {"contact_rate_limit": 2}
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings, **limit)
    for _ in range(2):
        assert away.post("/contact", MESSAGE, source_ip="192.0.2.7").status == 202
    refused = away.post("/contact", MESSAGE, source_ip="192.0.2.7")
    assert (refused.status, refused.headers["retry-after"]) == (429, "60")
    assert away.post("/contact", MESSAGE, source_ip="192.0.2.8").status == 202

    awake: LambdaClient = make_client(**bucket.settings, **limit, **AWAKE)
    assert awake.get("/contact", admin=True).json()["total"] == 3
    assert awake.post("/contact", MESSAGE, source_ip="192.0.2.7").status == 429
    accepted = awake.post("/contact", MESSAGE, source_ip="192.0.2.8")
    assert (accepted.status, accepted.headers["x-content-source"]) == (202, "database")

