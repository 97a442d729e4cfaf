"""A per-client limit on contact messages, kept in PostgreSQL and safe under concurrency.

The client is the identity the host reported (app/host_scope.py: under Lambda the source address
API Gateway, ALB or a function URL saw, an IPv6 host counted per /64), never a header the
client chose, and it is stored only as an HMAC: the table cannot be read back into addresses
without the key, which the database never holds.

One row per client and fixed window, counted with a single INSERT ... ON CONFLICT DO UPDATE:
PostgreSQL locks the row for the rest of the transaction, so two concurrent messages from
one client are counted one after the other, and a refused message is rolled back with
everything else its request did. Rows whose window has ended are deleted as new messages
arrive, a bounded batch at a time and skipping rows another transaction holds, so clean-up
never waits on (or deadlocks with) a concurrent request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math

from sqlalchemy import case, delete, select
from sqlalchemy.engine import Connection

from app.data.crud import dialect_insert
from app.data.tables import contact_rate_limits as limits
from app.settings import Settings

# Expired rows deleted per accepted message: far more than the one row a message can add.
CLEANUP_BATCH = 100
# Outside Lambda and without any secret configured (a laptop): a fixed, public key.
_LOCAL_KEY = b"portfolio-backend local development only"


def client_key(settings: Settings) -> bytes:
    """The HMAC key: CONTACT_CLIENT_KEY, else derived from the admin token's digest."""
    if settings.contact_client_key:
        return settings.contact_client_key.encode()
    if settings.admin_token_sha256:
        return hmac.new(
            bytes.fromhex(settings.admin_token_sha256), b"contact-client", hashlib.sha256
        ).digest()
    return _LOCAL_KEY


def client_id(key: bytes, client: str) -> str:
    """What the table stores for a client (its host-normalised identity): 64 hex characters,
    no address."""
    return hmac.new(key, client.encode(), hashlib.sha256).hexdigest()


def hit(
    conn: Connection, *, client: str, limit: int, window: dt.timedelta, now: dt.datetime
) -> int | None:
    """Count one message from `client`: None if it is allowed, else seconds to wait.

    The caller must roll back on a refusal (raising does), so refused messages are not
    counted and a client that waits gets its full allowance in the next window.
    """
    cutoff = now - window
    expired = limits.c.window_start <= cutoff
    first = dialect_insert(conn, limits).values(client=client, window_start=now, count=1)
    upsert = first.on_conflict_do_update(
        index_elements=[limits.c.client],
        set_={
            "window_start": case((expired, now), else_=limits.c.window_start),
            "count": case((expired, 1), else_=limits.c.count + 1),
        },
    ).returning(limits.c.count, limits.c.window_start)
    row = conn.execute(upsert).one()
    # By position: a Row's `count` attribute is the tuple method.
    count: int = row[0]
    window_start: dt.datetime = row[1]
    if count > limit:
        return max(1, math.ceil((window_start + window - now).total_seconds()))
    _delete_expired(conn, cutoff)
    return None


def _delete_expired(conn: Connection, cutoff: dt.datetime) -> None:
    doomed = select(limits.c.client).where(limits.c.window_start <= cutoff).limit(CLEANUP_BATCH)
    if conn.dialect.name == "postgresql":
        doomed = doomed.with_for_update(skip_locked=True)
    conn.execute(delete(limits).where(limits.c.client.in_(doomed.scalar_subquery())))
