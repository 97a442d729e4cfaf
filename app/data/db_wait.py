"""Client-side bounds on every wait for PostgreSQL: psycopg2's wait callback.

The server-side limits (statement_timeout, lowered to what is left of the request) cannot end
a wait on a server that no longer answers: a paused instance, a stopped process, a peer
gone without a FIN. libpq then blocks in `poll()` with no limit of its own, and a request
outlives its deadline (on Lambda the function is killed first and the client gets the
gateway's error, not ours). With a wait callback installed, psycopg2 drives libpq
non-blocking and calls `wait(conn)` for every blocking step; `wait` selects on the socket
for at most what is left of the current deadline (app/data/db_limits.py), and while
connecting for at most `connect_timeout` too: libpq ignores that parameter when driven
non-blocking, leaving it to the application
(https://www.postgresql.org/docs/current/libpq-connect.html, PQconnectStartParams).

On expiry `wait` raises `WaitTimeout`, an OperationalError; psycopg2 then closes the
connection (it cannot be put back into a known state), so SQLAlchemy sees a disconnect,
invalidates it, and the request answers 503. Nothing here knows who hosts the service: the
deadline is a context variable any host sets.

What this cannot bound: the host name lookup, which libpq does synchronously before the
first wait (use an IP address or a fast resolver for a hard bound).
"""

from __future__ import annotations

import math
import select
import time
from typing import Any

import psycopg2
import psycopg2.extensions as pg_ext

from app.data import db_limits

# After the deadline, before giving up on the connection: the server's statement_timeout, lowered
# to the same deadline (db_limits), ends a slow statement cleanly and keeps the connection.
# This bound is for a server that does not answer at all; it comes out of db_limits' margin.
GRACE_SECONDS = 0.25
_EXPIRED = "the database did not answer in the time left"


class WaitTimeout(psycopg2.OperationalError):  # type: ignore[misc]
    """The database did not answer within the time left; the connection is closed."""


def _connect_timeout(conn: Any) -> float | None:
    # The DSN psycopg2 connected with (the password masked); libpq's rule: below 2 s is 2 s.
    value = pg_ext.parse_dsn(conn.dsn).get("connect_timeout")
    try:
        seconds = int(value) if value is not None else 0
    except ValueError:
        return None
    return float(max(seconds, 2)) if seconds > 0 else None


def wait(conn: Any) -> None:
    """psycopg2 wait callback: poll `conn` until done, never past the deadline."""
    started = time.monotonic()
    limit: float | None = None
    left = db_limits.seconds_left()
    if left is not None:
        limit = started + left + GRACE_SECONDS
    if conn.status == pg_ext.STATUS_SETUP:  # connecting: startup, TLS, authentication
        timeout = _connect_timeout(conn)
        if timeout is not None:
            limit = started + timeout if limit is None else min(limit, started + timeout)
    while True:
        state = conn.poll()
        if state == pg_ext.POLL_OK:
            return
        if state == pg_ext.POLL_READ:
            events = select.POLLIN
        elif state == pg_ext.POLL_WRITE:
            events = select.POLLOUT
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state!r}")
        timeout_ms: int | None = None
        if limit is not None:
            timeout_ms = math.ceil((limit - time.monotonic()) * 1000)
            if timeout_ms <= 0:
                raise WaitTimeout(_EXPIRED)
        # poll(), not select(): no FD_SETSIZE limit. The socket is asked for after each
        # poll: libpq may open another one while connecting (the next address of a host).
        poller = select.poll()
        poller.register(conn.fileno(), events)
        if not poller.poll(timeout_ms):
            raise WaitTimeout(_EXPIRED)


def install() -> None:
    """Make `wait` psycopg2's wait callback for the whole process (idempotent).

    The callback is process-wide: every psycopg2 connection made afterwards is driven
    through it, and without a deadline it waits as libpq would (connect_timeout while
    connecting, else without limit).
    """
    if pg_ext.get_wait_callback() is not wait:
        pg_ext.set_wait_callback(wait)
