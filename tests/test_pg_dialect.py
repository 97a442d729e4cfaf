"""app/data/pg_dialect.py: the engine loads SQLAlchemy's PostgreSQL dialect without the other
drivers, and the package is still the whole package to anything that asks for more.

Each case runs in a fresh interpreter (tests/support/fresh.py): which modules an import loads
is only seen in a process that has imported nothing yet.
"""

from __future__ import annotations

from typing import Any

from tests.support.fresh import fresh_json

# The PostgreSQL drivers (and their shared asyncio connector) this service never uses.
OTHER_DRIVERS = [
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.postgresql.pg8000",
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.postgresql.psycopg2cffi",
    "sqlalchemy.connectors.asyncio",
]

_LOADED = (
    "sorted(m for m in sys.modules "
    "if m.startswith(('sqlalchemy.dialects.postgresql', 'sqlalchemy.connectors')))"
)


def _engine_run(database_url: str, *, through_app: bool) -> Any:
    make = (
        "from app.engine import engine_for; from app.settings import get_settings; "
        "engine = engine_for(get_settings())"
        if through_app
        else "from app.data import pg_dialect; pg_dialect.load(); "
        "from sqlalchemy import create_engine; engine = create_engine(url)"
    )
    code = (
        "import json, os, sys; url = os.environ['DATABASE_URL']; "
        f"{make}\n"
        "with engine.connect() as conn: value = conn.exec_driver_sql('select 41 + 1').scalar()\n"
        "print(json.dumps({'value': value, 'dialect': engine.dialect.driver, "
        f"'loaded': {_LOADED}}}))"
    )
    return fresh_json(code, DATABASE_URL=database_url)


def test_the_engine_queries_without_the_other_drivers(database_url: str) -> None:
    for through_app in (False, True):
        result = _engine_run(database_url, through_app=through_app)
        assert result["value"] == 42
        assert result["dialect"] == "psycopg2"
        assert "sqlalchemy.dialects.postgresql.psycopg2" in result["loaded"]
        assert [m for m in OTHER_DRIVERS if m in result["loaded"]] == []


def test_without_load_the_package_brings_every_driver(database_url: str) -> None:
    # The saving is real only if a plain engine loads them: otherwise load() is dead weight.
    code = (
        "import json, os, sys; from sqlalchemy import create_engine\n"
        "engine = create_engine(os.environ['DATABASE_URL'])\n"
        "with engine.connect() as conn: conn.exec_driver_sql('select 1')\n"
        f"print(json.dumps({_LOADED}))"
    )
    loaded = fresh_json(code, DATABASE_URL=database_url)
    assert [m for m in OTHER_DRIVERS if m in loaded] == OTHER_DRIVERS


_PUBLIC = (
    "sorted(k for k in vars(sys.modules['sqlalchemy.dialects.postgresql']) "
    "if not k.startswith('__'))"
)


def test_any_other_name_completes_the_package_as_sqlalchemy_ships_it() -> None:
    normal = fresh_json(
        "import json, sys; import sqlalchemy.dialects.postgresql as pg\n"
        f"print(json.dumps({{'names': {_PUBLIC}, 'all': sorted(pg.__all__)}}))"
    )
    for lookup in (
        "from sqlalchemy.dialects.postgresql import insert",
        "import sqlalchemy.dialects.postgresql as pg; pg.__all__",
        "from sqlalchemy.dialects import postgresql; postgresql.JSONB",
    ):
        completed = fresh_json(
            "import json, sys; from app.data import pg_dialect; pg_dialect.load()\n"
            "import sqlalchemy.dialects.postgresql.psycopg2\n"
            f"{lookup}\n"
            "import sqlalchemy.dialects.postgresql as pg\n"
            f"print(json.dumps({{'names': {_PUBLIC}, 'all': sorted(pg.__all__), "
            "'hook': '__getattr__' in vars(pg)}))"
        )
        assert completed == {**normal, "hook": False}, lookup


_DRIVERS = (
    "from sqlalchemy.dialects import registry\n"
    "names = ['postgresql.asyncpg', 'postgresql.pg8000', 'postgresql.psycopg',\n"
    "         'postgresql.psycopg_async', 'postgresql']\n"
    "print(json.dumps([registry.load(n).__name__ for n in names]))"
)


def test_other_drivers_and_the_default_one_resolve_as_without_load() -> None:
    # A fork that switches DATABASE_URL to another driver, or names none (`postgresql://`:
    # SQLAlchemy's default, which the package's __init__ sets on `base`), finds the same
    # dialect as with the package imported as shipped.
    shipped = fresh_json("import json\n" + _DRIVERS)
    assert shipped[-1] == "PGDialect_psycopg"
    loaded = fresh_json(
        "import json; from app.data import pg_dialect; pg_dialect.load()\n" + _DRIVERS
    )
    assert loaded == shipped


def test_load_after_a_normal_import_changes_nothing() -> None:
    same = fresh_json(
        "import json, sys; import sqlalchemy.dialects.postgresql as pg\n"
        "from app.data import pg_dialect\n"
        "print(json.dumps(pg_dialect.load() is pg and '__getattr__' not in vars(pg)))"
    )
    assert same is True
