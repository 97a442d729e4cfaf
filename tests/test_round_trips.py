"""Database round trips per request, counted by a proxy between the function and PostgreSQL.

With the paused-database fallback on (the default deployment: FALLBACK_BUCKET set, here the
suite's local S3 server) a database read also checks the publication revision, to repair a
snapshot a crash left behind (docs/paused-database.md): that check rides in the read's own
statement, so the count is the same.

On AWS each round trip costs a network hop (the bench adds 1 ms per round trip for its
production-like column); the count itself is deterministic, so it is held here as a budget.
A round trip is one client turn (tests/delay_proxy.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import Engine

from tests.delay_proxy import DelayProxy, delay_proxy

STATEMENT_TIMEOUT_MS = 5000


@pytest.fixture
def proxy(database_url: str) -> Iterator[DelayProxy]:
    port = make_url(database_url).port
    assert port is not None
    with delay_proxy(port, 0.0) as running:
        yield running


@pytest.fixture
def proxied_client(make_client: Any, database_url: str, proxy: DelayProxy) -> Any:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    # The role's own timeout in this database (migration 0004): no SET is needed.
    return make_client(
        database_url=url.render_as_string(hide_password=False),
        db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
    )


@pytest.fixture
def fallback_client(make_client: Any, database_url: str, proxy: DelayProxy, bucket: Any) -> Any:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return make_client(
        database_url=url.render_as_string(hide_password=False),
        db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        **bucket.settings,
    )


def _round_trips(proxy: DelayProxy, client: Any, path: str, source: str | None = None) -> int:
    before = proxy.counts().round_trips
    response = client.request("GET", path)
    assert response.status == 200, response.text
    if source is not None:
        assert response.headers["x-content-source"] == source
    return proxy.counts().round_trips - before


@pytest.mark.parametrize("path", ["/projects", "/projects/hello-world"])
def test_a_warm_public_read_is_one_round_trip(
    seeded_db: Engine, proxy: DelayProxy, proxied_client: Any, path: str
) -> None:
    _round_trips(proxy, proxied_client, path)  # connects, and whatever a first request adds
    assert [_round_trips(proxy, proxied_client, path) for _ in range(3)] == [1, 1, 1]


@pytest.mark.parametrize("path", ["/projects", "/projects/hello-world"])
def test_with_the_fallback_on_a_warm_public_read_is_still_one_round_trip(
    seeded_db: Engine, proxy: DelayProxy, fallback_client: Any, path: str
) -> None:
    # The first read finds the snapshot behind (seeded_db wrote without publishing it) and
    # repairs it; the reads after it find it current.
    _round_trips(proxy, fallback_client, path, "database")
    counts = [_round_trips(proxy, fallback_client, path, "database") for _ in range(3)]
    assert counts == [1, 1, 1]


def test_health_does_not_touch_the_database(proxy: DelayProxy, proxied_client: Any) -> None:
    assert _round_trips(proxy, proxied_client, "/health") == 0


def test_a_first_connection_is_a_fixed_number_of_round_trips(
    proxy: DelayProxy, database_url: str
) -> None:
    # What a cold start's warm-up pays before its first query (app/data/warmup.py): libpq's
    # SSLRequest (sslmode=prefer here; the server says no), the startup packet (trust
    # authentication here), SQLAlchemy's first-connect queries in one
    # transaction (BEGIN, server version, schema, isolation level, standard_conforming_strings,
    # ROLLBACK) and the session timeout the app learns (app/data/db_limits.py). No probe for
    # the hstore extension (app/data/db.py): it was a transaction of 3 more (12).
    from app.data.db import build_engine
    from app.settings import Settings

    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    engine = build_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    try:
        before = proxy.counts().round_trips
        with engine.connect():
            pass
        assert proxy.counts().round_trips - before == 9
    finally:
        engine.dispose()
