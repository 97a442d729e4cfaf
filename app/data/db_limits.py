"""Time limits on database work: a statement timeout per transaction, a deadline per request.

The statement timeout is the role's default in the database (migration 0004), read once per
new connection, so the usual request sends no SET at all: a round trip less, and no pinning
behind RDS Proxy, which pins a session for any SET until the client disconnects
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-pinning.html). When a
transaction's statements need another value (DB_STATEMENT_TIMEOUT_MS set to something else, or
a deadline nearer than the timeout), it is set with `SET LOCAL`, which ends with the
transaction: not with the libpq `options=-c statement_timeout=...` startup parameter (RDS
Proxy refuses startup options, "RDS Proxy currently doesn't support command-line options", and
PgBouncer closes the connection unless told to ignore them), and not with a session-level `SET`,
which would leak into other clients' transactions behind PgBouncer's transaction pooling.

A statement timeout bounds one statement; a request may run several (`POST /projects` up to
eight). The deadline bounds them together: it is the request's, given by its host as a plain
`time.monotonic()` value (app/host_scope.py; under Lambda the remaining time less a margin),
and when a statement could run past it, the statement's timeout is lowered to what is left.
"""

from __future__ import annotations

import contextlib
import math
import time
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

# libpq treats connect_timeout values below 2 as 2.
_LIBPQ_MIN_CONNECT_TIMEOUT = 2
# The statement timeout SET in the current transaction (per DBAPI connection; reset at BEGIN).
_SET_MS = "portfolio.statement_timeout_ms"
# The session's own statement timeout (the role's default in this database, migration 0004),
# read once per new connection.
_SESSION_MS = "portfolio.session_statement_timeout_ms"

# Whether the session's time zone is UTC (read with the timeout), and whether the current
# transaction SET it. Timestamps come back in the session's zone, and in one far from UTC the
# first or last instant of the calendar falls in year 0 or 10000, which psycopg2 cannot parse
# (a 500 after the insert). RDS defaults to UTC, so the usual session needs no SET for it.
_SESSION_UTC = "portfolio.session_time_zone_is_utc"
_ZONE_SET = "portfolio.time_zone_set"
_UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0",
     "GMT-0", "Etc/GMT+0", "Etc/GMT-0", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
     "Greenwich", "Etc/Greenwich"}
)  # fmt: skip

# Each engine's DB_STATEMENT_TIMEOUT_MS, for the readers deciding whether a SET is needed.
_timeouts: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()

_deadline: ContextVar[float | None] = ContextVar("portfolio_db_deadline", default=None)


class DeadlineExceeded(sa_exc.TimeoutError):
    """The request's time is up before its database work is; answered as a 503."""


@contextlib.contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Bound the database work done inside the block (in this context) by `at`."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """Seconds until the current deadline (negative when past), or None without one."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def install(engine: Engine, statement_timeout_ms: int) -> None:
    """Enforce `statement_timeout_ms` and the current deadline on every statement of `engine`.

    Register this before any `do_connect` hook that connects by itself (the credential hooks),
    so that its bound on the connect timeout is in the parameters they use.
    """
    _timeouts[engine] = statement_timeout_ms
    event.listen(engine, "do_connect", _bound_connect_timeout)
    event.listen(engine, "connect", _learn_session_timeout)
    event.listen(engine, "begin", _new_transaction)
    event.listen(engine, "before_cursor_execute", _limiter(statement_timeout_ms))


def _learn_session_timeout(dbapi_connection: Any, record: Any) -> None:
    # One query per new connection. Outside a transaction: psycopg2's autocommit is a switch on
    # the client, so no BEGIN and no ROLLBACK go to the server for it.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, setting FROM pg_settings"
                " WHERE name IN ('statement_timeout', 'TimeZone')"
            )
            settings = dict(cursor.fetchall())
            record.info[_SESSION_MS] = int(settings["statement_timeout"])
            record.info[_SESSION_UTC] = settings["TimeZone"] in _UTC_NAMES
    finally:
        dbapi_connection.autocommit = autocommit


def wanted_ms(statement_timeout_ms: int) -> int:
    """The timeout a statement started now needs: the setting, or less when the deadline is
    nearer. Raises DeadlineExceeded when no time is left."""
    left = seconds_left()
    if left is None:
        return statement_timeout_ms
    left_ms = int(left * 1000)
    if left_ms <= 0:
        raise DeadlineExceeded("the request's time for database work is up")
    return min(statement_timeout_ms, left_ms)


def session_suffices(connection: Connection) -> bool:
    """Whether the session's own timeout is the one a statement started now needs: then no SET
    is sent, and a read needs no transaction to SET it in. False for an engine without limits."""
    configured = _timeouts.get(connection.engine)
    if configured is None or not connection.info.get(_SESSION_UTC):
        return False
    return connection.info.get(_SESSION_MS) == wanted_ms(configured)


def _bound_connect_timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: Any) -> None:
    left = seconds_left()
    if left is None:
        return
    if left < _LIBPQ_MIN_CONNECT_TIMEOUT:
        # libpq would wait up to 2 s whatever it is told (the client-side bound in db_wait
        # would cut it, but a connect cut halfway is a wasted one): not worth starting.
        raise DeadlineExceeded("too little time left to connect to the database")
    configured = int(cparams.get("connect_timeout") or 0)
    bound = max(_LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(left))
    cparams["connect_timeout"] = min(configured, bound) if configured else bound


def _new_transaction(connection: Connection) -> None:
    # SET LOCAL ends with the transaction: the next statement sets the timeout again.
    connection.info.pop(_SET_MS, None)
    connection.info.pop(_ZONE_SET, None)


def _limiter(statement_timeout_ms: int) -> Any:
    def before_cursor_execute(
        connection: Connection,
        cursor: Any,
        _statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        timeout_ms = wanted_ms(statement_timeout_ms)
        set_zone = connection.info.get(_SESSION_UTC) is False and not connection.info.get(_ZONE_SET)
        # SET LOCAL ends with the transaction; the session's own value applies otherwise.
        if (
            not set_zone
            and connection.info.get(_SET_MS, connection.info.get(_SESSION_MS)) == timeout_ms
        ):
            return
        if cursor.connection.autocommit:
            # A read that started with the session's timeout sufficing (app/data/reads.py)
            # but ran into its deadline: there is no transaction to SET LOCAL in. The
            # session's timeout still ends the statement on the server; the wait callback
            # (app/data/db_wait.py) ends the wait on the client at the deadline (503).
            return
        # On the statement's connection (a plain cursor: the statement's own may be a
        # server-side one), so it runs in the same transaction; an error here is wrapped
        # by SQLAlchemy like the statement's.
        zone = "; SET LOCAL TIME ZONE 'UTC'" if set_zone else ""
        with cursor.connection.cursor() as setter:
            setter.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}{zone}")
        connection.info[_SET_MS] = timeout_ms
        connection.info[_ZONE_SET] = connection.info.get(_ZONE_SET) or set_zone

    return before_cursor_execute
