"""The outbox drain function (handler.drain, LambdaAdapter.drain): S3's event for an object
created under outbox/ moves the waiting contact messages into the database, exactly once,
against the suite's real local S3 server and real PostgreSQL. A database still away fails the
invocation (Lambda retries it) and keeps the message; the retry stores it and notifies once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from app.aws import metrics
from app.data.migrate import migrate
from app.fallback import outbox
from app.hosts.lambda_host import LambdaAdapter
from app.hosts.s3_events import NotAnS3EventError
from app.settings import Settings
from scripts.generate_events import s3_object_created
from tests.conftest import ADMIN_TOKEN_SHA256
from tests.postgres import Cluster, throwaway_cluster
from tests.support import lambda_context

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Sent while you slept."}
RECEIVED = f'"{metrics.CONTACT_MESSAGE_RECEIVED}":1'


def _accept(store: Any, client: str = "c0ffee") -> tuple[str, str]:
    """A message accepted into the outbox, as the API does while the database is away."""
    message_id = uuid.uuid4().hex
    outbox.accept(
        store,
        message_id=message_id,
        message=MESSAGE,
        client=client,
        stored_key=None,
        body_hash="h",
        limit=5,
    )
    return message_id, outbox.key_of(client, message_id)


def _drain_settings(database_url: str, bucket: Any) -> Settings:
    # As the template configures the drain function: no FALLBACK_BUCKET, the event names it.
    return Settings(
        database_url=database_url,
        admin_token_sha256=ADMIN_TOKEN_SHA256,
        db_connect_timeout=2,
        **{**bucket.settings, "fallback_bucket": ""},
    )


def _inbox(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, message FROM contact_messages"))]


@pytest.fixture
def drainer(database_url: str, bucket: Any) -> Iterator[LambdaAdapter]:
    adapter = LambdaAdapter(_drain_settings(database_url, bucket))
    yield adapter
    adapter.shutdown()


def test_the_s3_event_moves_the_message_in_once_and_notifies_once(
    drainer: LambdaAdapter, bucket: Any, clean_db: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    message_id, key = _accept(bucket.store)
    event = s3_object_created(bucket.name, key)
    assert drainer.drain(event, lambda_context("drain-1")) == {"drained": 1}
    assert _inbox(clean_db) == [(message_id, MESSAGE["message"])]
    assert bucket.store.list(outbox.PREFIX) == []
    # Lambda may deliver an event twice (its queue is eventually consistent): nothing more.
    assert drainer.drain(event, lambda_context("drain-2")) == {"drained": 0}
    assert _inbox(clean_db) == [(message_id, MESSAGE["message"])]
    assert capsys.readouterr().out.count(RECEIVED) == 1


def test_events_it_has_nothing_to_do_with(
    drainer: LambdaAdapter, bucket: Any, clean_db: Engine
) -> None:
    _accept(bucket.store)
    # S3's test event when the notification is saved, a key outside the outbox: no error
    # (an error would make Lambda retry it), nothing moved.
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket.name}
    assert drainer.drain(test_event, lambda_context()) == {"drained": 0}
    assert drainer.drain(s3_object_created(bucket.name, "keys/x.json"), lambda_context()) == {
        "drained": 0
    }
    assert len(bucket.store.list(outbox.PREFIX)) == 1
    with pytest.raises(NotAnS3EventError):
        drainer.drain({"Records": [{"eventSource": "aws:sqs"}]}, lambda_context())
    with pytest.raises(NotAnS3EventError):
        drainer.drain({"version": "2.0", "rawPath": "/projects"}, lambda_context())


def test_a_drain_told_its_bucket_ignores_events_of_another(
    database_url: str, bucket: Any, s3: Any, clean_db: Engine
) -> None:
    adapter = LambdaAdapter(
        Settings(
            database_url=database_url, admin_token_sha256=ADMIN_TOKEN_SHA256, **bucket.settings
        )
    )
    try:
        other = s3.bucket()
        _, key = _accept(other.store)
        assert adapter.drain(s3_object_created(other.name, key), lambda_context()) == {"drained": 0}
        assert len(other.store.list(outbox.PREFIX)) == 1
    finally:
        adapter.shutdown()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as started:
        yield started


@pytest.mark.slow  # a server of its own, stopped for a connect timeout
def test_while_the_database_is_stopped_the_drain_fails_and_its_retry_stores_once(
    cluster: Cluster, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(cluster.url)
    migrate(engine)
    engine.dispose()
    bucket = s3.bucket()
    message_id, key = _accept(bucket.store)
    event = s3_object_created(bucket.name, key)

    with cluster.paused():
        # A cold drain function, as S3 invokes it while Aurora resumes: it waits within its
        # invocation (a short one here), then fails so that Lambda retries the event.
        adapter = LambdaAdapter(_drain_settings(cluster.url, bucket))
        with pytest.raises(sa_exc.OperationalError):
            adapter.drain(event, lambda_context("drain-away", remaining_ms=4_000))
        assert bucket.store.list(outbox.PREFIX) == [key]  # the message waits
    engine = create_engine(cluster.url)
    try:
        assert _inbox(engine) == []
        assert capsys.readouterr().out.count(RECEIVED) == 0
        # Lambda's retry of the same event, in the same environment (or a new one).
        assert adapter.drain(event, lambda_context("drain-retry")) == {"drained": 1}
        assert adapter.drain(event, lambda_context("drain-duplicate")) == {"drained": 0}
        assert _inbox(engine) == [(message_id, MESSAGE["message"])]
        assert bucket.store.list(outbox.PREFIX) == []
        assert capsys.readouterr().out.count(RECEIVED) == 1
    finally:
        adapter.shutdown()
        engine.dispose()
