"""SQLAlchemy's PostgreSQL dialect package, imported without the drivers this service never uses.

`create_engine("postgresql://...")` imports the package `sqlalchemy.dialects.postgresql`,
whose `__init__` imports every PostgreSQL driver SQLAlchemy supports (asyncpg, pg8000,
psycopg 3, psycopg2cffi, and the asyncio connector they share), although an engine uses one.
Measured on every cold start: 5 modules and about 6 ms of CPU (bench/results/latest.md).

`load()` registers the package's module without running its `__init__`. Its submodules then
import as usual, each with what it needs (the psycopg2 dialect brings `base`, `array`,
`json`, `ranges`, `pg_catalog`...), and any other name looked up on the package (Alembic's
`from sqlalchemy.dialects.postgresql import insert`, `postgresql.__all__`) first runs the
package's own `__init__` in place: from then on it is the package exactly as SQLAlchemy ships
it. tests/test_pg_dialect.py checks both halves against a normal import.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "sqlalchemy.dialects.postgresql"

_lock = threading.RLock()


def load() -> ModuleType:
    """The package, registered but not yet run if nothing imported it before."""
    with _lock:
        existing = sys.modules.get(PACKAGE)
        if existing is not None:
            return existing
        import sqlalchemy.dialects

        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None:  # pragma: no cover - a broken installation
            raise ImportError(f"{PACKAGE} not found")
        package = importlib.util.module_from_spec(spec)

        def complete(name: str) -> Any:
            """A submodule is imported; any other name runs the package's `__init__` first."""
            if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
                return importlib.import_module(f"{PACKAGE}.{name}")
            with _lock:
                if package.__dict__.get("__getattr__") is complete:
                    del package.__getattr__
                    spec.loader.exec_module(package)  # type: ignore[union-attr]
            return getattr(package, name)

        package.__getattr__ = complete  # type: ignore[method-assign]
        sys.modules[PACKAGE] = package
        sqlalchemy.dialects.postgresql = package  # type: ignore[attr-defined]
        # `base` takes the array module from the package under the name `__init__` gives it.
        package.arraylib = importlib.import_module(f"{PACKAGE}.array")  # type: ignore[attr-defined]
        return package
