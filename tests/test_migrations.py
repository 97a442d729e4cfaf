"""Migrations: up, down, idempotent, matching the tables, and safe to run concurrently."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from app.data.migrate import migrate
from app.data.tables import metadata
from tests.conftest import ROOT


def _all_revisions() -> list[str]:
    """Every revision, oldest first, from the scripts (so new migrations need no edit here)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.data.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return [
        rev.revision for rev in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))
    ]


ALL = _all_revisions()
HEAD = ALL[-1]


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_applies_then_has_nothing_to_do(fresh_engine: Engine) -> None:
    assert migrate(fresh_engine) == {"previous": None, "current": HEAD, "applied": ALL}
    assert _tables(fresh_engine) == {*metadata.tables, "alembic_version"}
    assert migrate(fresh_engine) == {"previous": HEAD, "current": HEAD, "applied": []}


def test_downgrade_to_base_and_back(fresh_engine: Engine) -> None:
    migrate(fresh_engine)
    assert migrate(fresh_engine, "base") == {"previous": HEAD, "current": None, "applied": []}
    assert _tables(fresh_engine) == {"alembic_version"}
    assert migrate(fresh_engine)["applied"] == ALL


def test_migrations_match_the_tables_the_code_uses(fresh_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrations_work_on_the_sqlite_default(tmp_path: os.PathLike[str]) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/local.db")
    assert migrate(engine)["applied"] == ALL
    assert migrate(engine)["applied"] == []
    assert _tables(engine) == {*metadata.tables, "alembic_version"}


def test_concurrent_migrations_apply_once(fresh_engine: Engine) -> None:
    # Two processes, as two Lambda invocations would be; the first holds the advisory lock
    # for a moment (a deliberately slow migration is not needed: both start together).
    script = (
        "import json, sys; from sqlalchemy import create_engine; "
        "from app.data.migrate import migrate; "
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
    assert sorted(r["applied"] for r in results) == [[], ALL]
    assert {r["current"] for r in results} == {HEAD}
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD
        ]


def _index_names(engine: Engine, table: str) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes(table)}  # type: ignore[misc]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_0002_indexes_idempotency_keys_and_drops_the_global_ones(
    fresh_engine: Engine, tmp_path: os.PathLike[str], dialect: str
) -> None:
    engine = (
        fresh_engine if dialect == "postgresql" else create_engine(f"sqlite:///{tmp_path}/l.db")
    )
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO idempotency_keys VALUES "
                "('k', 'POST /contact', :h, 202, '{}', CURRENT_TIMESTAMP)"
            ),
            {"h": "0" * 64},
        )
    assert "ix_idempotency_keys_created_at" not in _index_names(engine, "idempotency_keys")
    assert migrate(engine, "0002")["applied"] == ["0002"]
    assert "ix_idempotency_keys_created_at" in _index_names(engine, "idempotency_keys")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar() == 0
    # Down through 0002's downgrade (a downgrade to a revision other than base is not
    # reported correctly by app.data.migrate: its "applied" list assumes an upgrade).
    migrate(engine, "base")
    assert _tables(engine) == {"alembic_version"}
