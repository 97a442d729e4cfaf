"""The service and its migrations through a real PgBouncer with DB_EXTERNAL_POOLER=true.

PgBouncer (transaction pooling, default `ignore_startup_parameters`) refuses the libpq
`options` startup parameter exactly as RDS Proxy does, so this is the local proof that the
`EnableRdsProxy=true` path connects: every sample event gets its expected status, migrations
run (also two at once), and the statement timeout, now `SET LOCAL` per transaction, still
turns a slow statement into a 503.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.conftest import ROOT, expected_statuses, lambda_context, load_event
from tests.pgbouncer import pgbouncer
from tests.postgres import Cluster
from tests.test_migrations import ALL

EXPECTED = expected_statuses()


@pytest.fixture(scope="module")
def bouncer_port(pg_cluster: Cluster | None) -> Iterator[int]:
    if pg_cluster is None:
        pytest.skip("PgBouncer is started in front of the suite's own cluster only")
    with pgbouncer(pg_cluster) as port:
        yield port


def _through(url: str, port: int, database: str | None = None) -> str:
    parsed = make_url(url).set(host="127.0.0.1", port=port)
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def pooled(make_client: Any, database_url: str, bouncer_port: int) -> Any:
    """A function environment whose database URL is PgBouncer's, as behind RDS Proxy."""
    return make_client(database_url=_through(database_url, bouncer_port), db_external_pooler=True)


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.startswith("malformed/")))
def test_every_route_answers_through_pgbouncer(name: str, pooled: Any, seeded_db: Engine) -> None:
    response = pooled.adapter.handle(load_event(name), lambda_context())
    assert response["statusCode"] == EXPECTED[name], response.get("body", "")[:500]


def test_a_slow_statement_still_ends_in_a_503(
    make_client: Any, database_url: str, bouncer_port: int
) -> None:
    client = make_client(
        database_url=_through(database_url, bouncer_port),
        db_external_pooler=True,
        db_statement_timeout_ms=500,
    )
    assert (
        client.post("/contact", {"name": "A", "email": "a@example.com", "message": "x"}).status
        == 202
    )
    admin = create_engine(database_url)
    with admin.connect() as conn:
        conn.execute(text("LOCK TABLE contact_messages IN SHARE MODE"))
        started = time.monotonic()
        response = client.post("/contact", {"name": "B", "email": "b@example.com", "message": "y"})
        elapsed = time.monotonic() - started
        conn.rollback()
    admin.dispose()
    assert (response.status, response.json()) == (
        503,
        {"detail": "database unavailable, try again shortly"},
    )
    # Ended by the 0.5 s statement timeout, long before anything else would end it.
    assert 0.4 < elapsed < 5
    assert (
        client.post("/contact", {"name": "C", "email": "c@example.com", "message": "z"}).status
        == 202
    )


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[tuple[str, Engine]]:
    """A new, empty database: its name and a direct engine on it."""
    name = f"pooled_{uuid.uuid4().hex[:8]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    direct = create_engine(make_url(database_url).set(database=name))
    yield name, direct
    direct.dispose()
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


def test_migrations_run_through_pgbouncer_once_even_when_two_run_at_once(
    make_client: Any, database_url: str, bouncer_port: int, fresh_database: tuple[str, Engine]
) -> None:
    name, direct = fresh_database
    url = _through(database_url, bouncer_port, name)
    adapters = [make_client(database_url=url, db_external_pooler=True).adapter for _ in range(2)]
    results: list[Any] = []

    def run(adapter: Any) -> None:
        results.append(adapter.migrate({}, lambda_context()))

    threads = [threading.Thread(target=run, args=(adapter,)) for adapter in adapters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # One run applied every revision, the other found nothing left to do.
    assert sorted((r["applied"] for r in results), key=len) == [[], ALL], results
    assert adapters[0].migrate({}, lambda_context())["applied"] == []
    with direct.connect() as conn:
        # The lock lives and dies with the migration's transaction: none is left behind on a
        # server connection PgBouncer hands to the next client.
        assert (
            conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar()
            == 0
        )
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == ALL[-1]


def test_the_handler_module_configured_from_the_environment_works_through_pgbouncer(
    database_url: str, bouncer_port: int, fresh_database: tuple[str, Engine]
) -> None:
    # handler.migrate then handler.handler, as Lambda imports them: settings from environment
    # variables (DB_EXTERNAL_POOLER=true), in a process of their own.
    name, _ = fresh_database
    script = (
        "import json, handler\n"
        "from tests.conftest import lambda_context, load_event\n"
        "print(json.dumps(handler.migrate({}, lambda_context())))\n"
        "r = handler.handler(load_event('http-v2/get-projects.json'), lambda_context())\n"
        "print(json.dumps(r))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": _through(database_url, bouncer_port, name),
        "DB_EXTERNAL_POOLER": "true",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    migrated, response = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert migrated["applied"] == ALL
    assert response["statusCode"] == 200, response
