"""The fallback's circuit breaker (app/fallback/budget.py, Breaker), against a real PostgreSQL
server whose processes are stopped (SIGSTOP, as while Aurora resumes): once one public read
has waited the budget and left its connection attempt running, the next visitors are answered
from the snapshot without a database attempt of their own; when that attempt succeeds (the
server continued), the breaker is closed and reads come from the database again.

Proved by order and counts (attempt threads alive, where each answer came from), not timings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine

from app.data.migrate import migrate
from app.fallback.service import Fallback
from app.hosts.lambda_host import LambdaAdapter
from app.settings import Settings
from tests.client import LambdaClient
from tests.conftest import ADMIN_TOKEN_SHA256
from tests.postgres import Cluster, throwaway_cluster

pytestmark = pytest.mark.slow  # a server of its own, stopped and continued

PROJECT = {"slug": "kept", "title": "Kept", "summary": "s", "body": "b", "published": True}
MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello."}


def _attempts() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "db-attempt" and t.is_alive()]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as started:
        yield started


def test_one_attempt_waits_the_next_visitors_do_not_and_its_success_closes_it(
    cluster: Cluster, s3: Any
) -> None:
    engine = create_engine(cluster.url)
    migrate(engine)
    engine.dispose()
    bucket = s3.bucket()
    settings = Settings(
        database_url=cluster.url,
        admin_token_sha256=ADMIN_TOKEN_SHA256,
        # Long enough that the first attempt is still connecting when the server continues.
        db_connect_timeout=60,
        **bucket.settings,
    )
    owner_adapter = LambdaAdapter(settings)
    assert LambdaClient(owner_adapter.handle).post("/projects", PROJECT, admin=True).status == 201
    owner_adapter.shutdown()
    assert _attempts() == []

    with cluster.paused():
        adapter = LambdaAdapter(settings)
        visitor = LambdaClient(adapter.handle)
        breaker = Fallback.for_app(adapter.app).breaker  # type: ignore[union-attr]
        first = visitor.get("/projects")
        assert (first.status, first.headers["x-content-source"]) == (200, "snapshot")
        (waking,) = _attempts()  # its connection attempt goes on: it is what wakes Aurora
        assert breaker.is_open()
        for path, query in (("/projects", {}), ("/projects/kept", {}), ("/projects", {"tag": "x"})):
            answer = visitor.get(path, query=query)
            assert (answer.status, answer.headers.get("x-content-source")) == (200, "snapshot"), (
                path,
                answer.status,
                answer.text,
            )
        sent = visitor.post("/contact", MESSAGE)
        assert (sent.status, sent.headers["x-content-source"]) == (202, "outbox")
        # None of them started an attempt of its own (each would be waiting here too).
        assert _attempts() == [waking]
    try:
        waking.join(timeout=60)
        assert not waking.is_alive()
        # The waking attempt succeeded: the breaker is closed, and the database answers again.
        assert not breaker.is_open()
        again = visitor.get("/projects")
        assert (again.status, again.headers["x-content-source"]) == (200, "database")
        assert _attempts() == []
    finally:
        adapter.shutdown()
