"""Shared fixtures: a real PostgreSQL (started here unless TEST_DATABASE_URL is set), the
migrated schema, the Lambda handler built against it, and the sample events."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.node_ids import pytest_collection_modifyitems  # noqa: F401 - the hook, for xdist
from tests.postgres import Cluster, throwaway_cluster
from tests.support import lambda_context  # noqa: F401 - re-exported: tests import it from here

ROOT = Path(__file__).resolve().parent.parent

# Under `make test` pytest inherits make's own variables; a `make` that a test runs as a user
# would then think itself a sub-make and print "make[1]: Entering/Leaving directory" into the
# output the test reads. A user's shell has none of them.
for _name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"):
    os.environ.pop(_name, None)
EVENTS = ROOT / "events"
# The token the sample admin events carry; the suite configures its digest. Never deploy it.
ADMIN_TOKEN = "local-admin-token"
ADMIN_TOKEN_SHA256 = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    """The suite's own cluster, or None when TEST_DATABASE_URL points at an existing one."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def database_url(pg_cluster: Cluster | None) -> str:
    """A migrated, empty database: `portfolio_test` on the suite's cluster.

    Under pytest-xdist each worker starts its own cluster; on a shared TEST_DATABASE_URL the
    worker's id keeps the databases apart (`portfolio_test_gw0`, ...).
    """
    server_url = os.environ.get("TEST_DATABASE_URL") or (pg_cluster.url if pg_cluster else "")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # pytest-xdist's own: gw0, gw1, ...
    name = f"portfolio_test_{worker}" if worker else "portfolio_test"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    from app.data.migrate import migrate

    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine for tests to read and arrange the database directly."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE projects, project_tags, contact_messages, idempotency_keys, "
                "contact_rate_limits "
                "RESTART IDENTITY CASCADE"
            )
        )
        conn.execute(text("UPDATE publication SET revision = 1, snapshot_revision = 0"))


@pytest.fixture
def clean_db(db_engine: Engine) -> Iterator[Engine]:
    """Empty tables before the test (and after, so no test depends on another's rows)."""
    _truncate(db_engine)
    yield db_engine
    _truncate(db_engine)


@pytest.fixture(scope="session")
def lambda_env(database_url: str) -> dict[str, str]:
    """The environment the function runs with in the tests, in-process and in the image."""
    return {
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN_SHA256": ADMIN_TOKEN_SHA256,
        "DB_CONNECT_TIMEOUT": "2",
        "DB_STATEMENT_TIMEOUT_MS": "2000",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def lambda_handler(lambda_env: dict[str, str]) -> Any:
    """`handler.handler` itself, imported with the suite's environment."""
    # handler reads its settings once, at import: the suite's values are needed only then.
    # Left in os.environ they would reach every command a test runs as a user would (SAM CLI
    # passes a shell's value on for each variable the template declares).
    saved = dict(os.environ)
    os.environ.update(lambda_env)
    try:
        from app.settings import get_settings

        get_settings.cache_clear()
        import handler
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return handler.handler


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/ by its path relative to that folder."""
    return json.loads((EVENTS / name).read_text())


def expected_statuses() -> dict[str, int]:
    """events/expected-status.json: the status every sample event must produce."""
    return json.loads((EVENTS / "expected-status.json").read_text())


def body_of(response: dict[str, Any]) -> Any:
    """The JSON body of a Lambda proxy response."""
    return json.loads(response["body"]) if response.get("body") else None


SAMPLE_PROJECT = {
    "slug": "hello-world",
    "title": "Hello, world",
    "summary": "The first project.",
    "body": "# Hello\n\nMarkdown *body*.",
    "tags": ["python", "lambda"],
    "url": "https://example.com/hello",
    "repo_url": "https://example.com/hello.git",
    "featured": True,
    "published": True,
}


@pytest.fixture
def seeded_db(clean_db: Engine) -> Engine:
    """The clean database with the published project and the message the sample events ask for."""
    from app.api import schemas
    from app.data import crud
    from app.data.tables import contact_messages
    from scripts.generate_events import MESSAGE_ID

    with clean_db.begin() as conn:
        crud.create_project(conn, fields=schemas.ProjectCreate(**SAMPLE_PROJECT).model_dump())
        # The message the inbox's sample events read, mark and delete.
        conn.execute(
            contact_messages.insert().values(
                id=MESSAGE_ID,
                name="Ada",
                email="ada@example.com",
                message="Hello from the contact form.",
                created_at=datetime.datetime(2026, 11, 27, 10, tzinfo=datetime.UTC),
            )
        )
    return clean_db


@pytest.fixture
def client(lambda_handler: Any, clean_db: Engine) -> Any:
    """Requests through `handler.handler` against an empty database."""
    from tests.client import LambdaClient

    return LambdaClient(lambda_handler)


@pytest.fixture
def make_client(database_url: str) -> Iterator[Any]:
    """Build a separate adapter (its own app, lifespan and engine) with chosen settings."""
    from app.hosts.lambda_host import LambdaAdapter
    from app.settings import Settings
    from tests.client import LambdaClient

    adapters: list[LambdaAdapter] = []

    def make(**overrides: Any) -> LambdaClient:
        values: dict[str, Any] = {
            "database_url": database_url,
            "admin_token_sha256": ADMIN_TOKEN_SHA256,
            "db_connect_timeout": 2,
            "db_statement_timeout_ms": 2000,
        }
        adapter = LambdaAdapter(Settings(**{**values, **overrides}))
        adapters.append(adapter)
        client = LambdaClient(adapter.handle)
        client.adapter = adapter  # type: ignore[attr-defined]
        return client

    yield make
    for adapter in adapters:
        adapter.shutdown()


@pytest.fixture
def fresh_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a new, empty database of the suite's cluster."""
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(database_url.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture(scope="session")
def s3() -> Iterator[Any]:
    """The suite's local S3 server (tests/s3_server.py)."""
    from tests.s3_server import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3: Any) -> Any:
    """A new, empty bucket: its name, the service's own client for it, and the settings."""
    return s3.bucket()
