"""`handler.migrate` in the image, through the emulator, against PostgreSQL: twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.image.support import Emulator

pytestmark = pytest.mark.image

DATABASE = "portfolio_image_migrate"


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """A database of its own on the suite's server, with no schema at all."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    yield database_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def test_migrate_upgrades_then_does_nothing(
    empty_database: str, lambda_env: dict[str, str], start_emulator: Any
) -> None:
    function: Emulator = start_emulator(
        {**lambda_env, "DATABASE_URL": empty_database}, handler="handler.migrate"
    )

    first, _ = function.first_invoke({})
    second = function.invoke({})

    assert "errorType" not in first, (first, function.logs()[-3000:])
    assert first["applied"], first
    assert second == {"previous": first["current"], "current": first["current"], "applied": []}
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert versions == [first["current"]]
