"""Liveness and readiness, with the database up, down and back."""

from __future__ import annotations

import time
from typing import Any

from tests.client import LambdaClient
from tests.support import free_port


def test_health_never_touches_the_database(make_client: Any) -> None:
    client = make_client(database_url=f"postgresql+psycopg2://u@127.0.0.1:{free_port()}/db")
    response = client.get("/health")
    assert (response.status, response.json()) == (200, {"status": "ok"})


def test_ready_reports_the_database(client: LambdaClient) -> None:
    response = client.get("/health/ready")
    assert (response.status, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_ready_is_503_when_the_database_is_unreachable(make_client: Any) -> None:
    client = make_client(database_url=f"postgresql+psycopg2://u@127.0.0.1:{free_port()}/db")
    response = client.get("/health/ready")
    assert (response.status, response.json()) == (
        503,
        {"detail": "database unavailable, try again shortly"},
    )
    assert response.headers["retry-after"] == "1"


def test_unroutable_database_fails_within_the_connect_timeout(make_client: Any) -> None:
    # 192.0.2.0/24 is reserved for documentation: packets go nowhere, so only the
    # connect timeout can end the attempt.
    client = make_client(
        database_url="postgresql+psycopg2://u@192.0.2.1:5432/db", db_connect_timeout=1
    )
    started = time.monotonic()
    response = client.get("/projects")
    elapsed = time.monotonic() - started
    assert response.status == 503
    # Not a timing benchmark: a bound that only a hang past the timeout could break.
    assert elapsed < 10
    assert client.get("/health").status == 200
