"""A request's reads in one round trip each: no ping, no transaction, no SET.

A warm public read used to cost seven round trips: the pool's pre-ping, BEGIN, SET LOCAL
statement_timeout, three queries and COMMIT. Now the page is one query (app/data/crud.py), the
timeout is the role's own (migration 0004, app/data/db_limits.py), and a read runs in
autocommit (a single SELECT is its own snapshot; there is nothing to commit). The ping goes
too: a read that finds its pooled connection dead (closed by the server's
idle_session_timeout while the environment was frozen, or by a restart) is run once more on a
new connection. A read changes nothing, so running it twice is safe, and the dead connection
costs one failed attempt instead of every read costing a ping.

When the session's timeout is not the one needed (another DB_STATEMENT_TIMEOUT_MS, or a
deadline nearer than the timeout), the reads run in a transaction that sets it, as writes do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from app.data import db_limits

T = TypeVar("T")

# Set while a reader checks a connection out: the pool's ping (app/data/db.py) is skipped.
_unpinged: ContextVar[bool] = ContextVar("portfolio_db_unpinged", default=False)


def ping_wanted() -> bool:
    """Whether a connection checked out now should be pinged first (not for a reader)."""
    return not _unpinged.get()


class Reader:
    """Runs one request's read-only queries: `reader(crud.get_project, slug=...)`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        # The psycopg2 connection switched to autocommit, to switch back before it is pooled.
        self._autocommitting: Any = None

    def __call__(self, query: Callable[..., T], /, **kwargs: Any) -> T:
        retried = False
        while True:
            connection = self._connection or self._open()
            try:
                return query(connection, **kwargs)
            except sa_exc.DBAPIError as error:
                if retried or not error.connection_invalidated:
                    raise
            retried = True
            self.close()

    def _open(self) -> Connection:
        token = _unpinged.set(True)
        try:
            connection = self._engine.connect()
        finally:
            _unpinged.reset(token)
        if db_limits.session_suffices(connection):
            # psycopg2's own switch, not SQLAlchemy's isolation_level option: that one resets
            # the level when the connection goes back to the pool with a `SET
            # default_transaction_isolation` (a round trip, and a SET that pins RDS Proxy).
            # This is a flag on the client: psycopg2 just sends no BEGIN while it is on.
            raw: Any = connection.connection.dbapi_connection
            if raw.isolation_level is not None:
                # An explicit level (left by SQLAlchemy resetting the snapshot's REPEATABLE
                # READ, app/fallback/snapshot.py, to the server's default by name) makes
                # psycopg2 send `SET default_transaction_isolation` each time autocommit goes
                # off: a round trip per read. Outside autocommit and a transaction, going
                # back to the session default is only a flag; the level is the same.
                raw.isolation_level = None
            raw.autocommit = True
            self._autocommitting = raw
        self._connection = connection
        return connection

    def close(self) -> None:
        """Give the connection back (a transaction, if one was needed, is rolled back)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            raw, self._autocommitting = self._autocommitting, None
            if raw is not None and not raw.closed:
                # Off again before the pool has it: no transaction is open, so psycopg2 sends
                # nothing. (A connection a failure closed is discarded, flag and all.)
                raw.autocommit = False
            connection.close()


@contextlib.contextmanager
def reader(engine: Engine) -> Iterator[Reader]:
    """A Reader for the block, its connection given back at the end."""
    running = Reader(engine)
    try:
        yield running
    finally:
        running.close()
