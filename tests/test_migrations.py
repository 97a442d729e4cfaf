"""Migrations: up, down, idempotent, matching the tables, and safe to run concurrently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from app.migrate import MIGRATIONS, migrate
from app.tables import metadata
from tests.conftest import ROOT


def _revisions() -> list[str]:
    """Every revision, base first: the tests follow the chain instead of naming versions."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


REVISIONS = _revisions()
HEAD = REVISIONS[-1]


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


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_applies_then_has_nothing_to_do(fresh_engine: Engine) -> None:
    assert migrate(fresh_engine) == {"previous": None, "current": HEAD, "applied": REVISIONS}
    assert _tables(fresh_engine) == {*metadata.tables, "alembic_version"}
    assert migrate(fresh_engine) == {"previous": HEAD, "current": HEAD, "applied": []}


def test_downgrade_to_base_and_back(fresh_engine: Engine) -> None:
    migrate(fresh_engine)
    assert migrate(fresh_engine, "base") == {"previous": HEAD, "current": None, "applied": []}
    assert _tables(fresh_engine) == {"alembic_version"}
    assert migrate(fresh_engine)["applied"] == REVISIONS


def test_migrations_match_the_tables_the_code_uses(fresh_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrations_work_on_the_sqlite_default(tmp_path: os.PathLike[str]) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/local.db")
    assert migrate(engine)["applied"] == REVISIONS
    assert migrate(engine)["applied"] == []
    assert _tables(engine) == {*metadata.tables, "alembic_version"}


def test_concurrent_migrations_apply_once(fresh_engine: Engine) -> None:
    # Two processes, as two Lambda invocations would be; the first holds the advisory lock
    # for a moment (a deliberately slow migration is not needed: both start together).
    script = (
        "import json, sys; from sqlalchemy import create_engine; "
        "from app.migrate import migrate; "
        "print(json.dumps(migrate(create_engine(sys.argv[1]))))"
    )
    url = fresh_engine.url.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["applied"] for r in results) == [[], REVISIONS]
    assert {r["current"] for r in results} == {HEAD}
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD
        ]


def test_0003_upgrades_existing_data(fresh_engine: Engine) -> None:
    """From the schema before 0003, with rows in it: dates filled, URLs encoded, all unread."""
    from alembic.script import ScriptDirectory

    before = ScriptDirectory(str(MIGRATIONS)).get_revision("0003").down_revision
    assert isinstance(before, str)
    migrate(fresh_engine, before)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (slug, title, summary, body, url, repo_url, featured,"
                " published, created_at, updated_at) VALUES"
                " ('old', 'Old', '', '', 'https://example.com/caf\u00e9 menu', NULL, false, true,"
                "  '2020-01-02T03:04:05Z', '2021-01-01T00:00:00Z'),"
                " ('draft', 'Draft', '', '', NULL, 'https://example.com/r%C3%A9po', false, false,"
                "  '2022-01-01T00:00:00Z', '2022-01-01T00:00:00Z')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO contact_messages (id, name, email, message, created_at) VALUES"
                " ('0123456789abcdef0123456789abcdef', 'Ada', 'ada@example.com', 'Hi',"
                "  '2020-01-01T00:00:00Z')"
            )
        )

    assert migrate(fresh_engine, "0003")["applied"] == ["0003"]

    with fresh_engine.connect() as conn:
        rows = {
            r.slug: r
            for r in conn.execute(
                text("SELECT slug, url, repo_url, published_at, created_at, position FROM projects")
            )
        }
        read = conn.execute(text("SELECT read FROM contact_messages")).scalar_one()
    # Published rows keep their place in the public order: published_at = created_at.
    assert rows["old"].published_at == rows["old"].created_at
    assert rows["draft"].published_at is None
    # Non-ASCII is percent-encoded (as UTF-8); existing escapes are left alone.
    assert rows["old"].url == "https://example.com/caf%C3%A9%20menu"
    assert rows["draft"].repo_url == "https://example.com/r%C3%A9po"
    assert rows["old"].position is None
    assert read is False
    # What was stored now passes the API's own rules.
    from app.schemas import ProjectUpdate

    ProjectUpdate(url=rows["old"].url, repo_url=rows["draft"].repo_url)
