"""SQLAlchemy's PostgreSQL dialect package, imported without the drivers this service never uses.

`create_engine("postgresql://...")` imports the package `sqlalchemy.dialects.postgresql`,
whose `__init__` imports every PostgreSQL driver SQLAlchemy supports (asyncpg, pg8000,
psycopg 3, psycopg2cffi, and the asyncio connector they share), although an engine uses one.
Measured on every cold start: 7 modules and about 5.5 ms of CPU (docs/benchmark.md).

`load()` registers the package's module without running its `__init__`. Its submodules then
import as usual, each with what it needs (the psycopg2 dialect brings `base`, `array`,
`json`, `ranges`, `pg_catalog`...), and any other name looked up on the package (Alembic's
`from sqlalchemy.dialects.postgresql import insert`, `postgresql.__all__`) first runs the
package's own `__init__` in place: from then on it is the package exactly as SQLAlchemy ships
it. The one thing `__init__` sets elsewhere is `base.dialect`, the driver of a URL that names
none (`postgresql://`); that name is registered with SQLAlchemy's dialect registry (its public
way to add a dialect) to complete the package first. tests/test_pg_dialect.py checks all of it
against a normal import.
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
_package: ModuleType | None = None


def load() -> ModuleType:
    """The package, registered but not yet run if nothing imported it before."""
    global _package  # noqa: PLW0603 - one package per process, as sys.modules holds it
    with _lock:
        existing = sys.modules.get(PACKAGE)
        if existing is not None:
            return existing
        import sqlalchemy.dialects
        from sqlalchemy.dialects import registry

        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None:  # pragma: no cover - a broken installation
            raise ImportError(f"{PACKAGE} not found")
        package = importlib.util.module_from_spec(spec)
        package.__getattr__ = _lookup  # type: ignore[method-assign]
        _package = package
        sys.modules[PACKAGE] = package
        sqlalchemy.dialects.postgresql = package  # type: ignore[attr-defined]
        # `base` takes the array module from the package under the name `__init__` gives it.
        package.arraylib = importlib.import_module(f"{PACKAGE}.array")  # type: ignore[attr-defined]
        registry.register("postgresql", __name__, "default_dialect")
        return package


def _lookup(name: str) -> Any:
    """The package's missing names: a submodule is imported, anything else completes it."""
    if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
        return importlib.import_module(f"{PACKAGE}.{name}")
    return getattr(_complete(), name)


def _complete() -> ModuleType:
    """Run the package's own `__init__` in place (once)."""
    with _lock:
        package = _package
        assert package is not None and package.__spec__ is not None
        if package.__dict__.get("__getattr__") is _lookup:
            del package.__getattr__
            package.__spec__.loader.exec_module(package)  # type: ignore[union-attr]
        return package


def __getattr__(name: str) -> Any:
    # `default_dialect`: what the registry gives for `postgresql://` (see the docstring).
    if name == "default_dialect":
        return _complete().dialect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
