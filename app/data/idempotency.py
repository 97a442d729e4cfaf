"""Idempotency keys for POST routes: a retried request replays its first answer.

The key is claimed atomically (INSERT ... ON CONFLICT) before the write, in the write's own
transaction, and its answer is recorded there too: either both exist or neither does. A
concurrent request with the same key waits for that transaction on the key's row and then
replays its answer; a retry after a failure writes afresh.

Keys live in one namespace per caller (the admin, or an anonymous caller's source address),
stored only as a digest of (caller, key), and expire after 24 hours, as the large payment
APIs' keys do. Every claim deletes at most a few expired keys, so cleanup costs a bounded
amount per write and the table holds about one day of keyed writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.engine import Connection

from app.data.crud import dialect_insert
from app.data.tables import idempotency_keys

HEADER = "Idempotency-Key"
TTL = dt.timedelta(hours=24)
# Expired keys deleted per claim: more than the one row a claim adds, so a backlog shrinks.
CLEANUP_BATCH = 10

_t = idempotency_keys.c


class KeyReusedError(ValueError):
    """The key was already used with a different request body (answered as a 422)."""


@dataclass(frozen=True)
class Replay:
    """The answer recorded under a key: what its retry gets again."""

    status_code: int
    body: Any


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def scoped_key(caller: str, key: str) -> str:
    """The stored form of `key`: a digest, so neither the key nor the caller is kept."""
    return hashlib.sha256(f"{caller}\n{key}".encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class Guard:
    """One POST's idempotency: claim the key, or replay the answer stored under it."""

    conn: Connection
    key: str | None
    scope: str
    body_hash: str

    @classmethod
    def for_request(
        cls, conn: Connection, *, key: str | None, scope: str, caller: str, body: Any
    ) -> Guard:
        stored = scoped_key(caller, key) if key is not None else None
        return cls(conn, stored, scope, request_hash(body))

    def claim(self) -> Replay | None:
        """None when this request owns the key (or has none): go on and write.

        Otherwise the answer of the request that wrote under this key; KeyReusedError when that
        request had another body.
        """
        if self.key is None:
            return None
        now = dt.datetime.now(dt.UTC)
        self._delete_expired(now)
        fresh = {
            "request_hash": self.body_hash,
            # Placeholders until remember(): no other transaction ever sees them.
            "status_code": 0,
            "response": {},
            "created_at": now,
        }
        insert = dialect_insert(self.conn, idempotency_keys)
        claimed = self.conn.execute(
            insert.values(key=self.key, scope=self.scope, **fresh)
            .on_conflict_do_update(
                index_elements=[_t.key, _t.scope],
                set_=fresh,
                where=_t.created_at <= now - TTL,  # an expired key is free again
            )
            .returning(_t.key)
        ).first()
        if claimed is not None:
            return None
        row = self.conn.execute(
            select(_t.request_hash, _t.status_code, _t.response).where(
                _t.key == self.key, _t.scope == self.scope
            )
        ).one()
        if row.request_hash != self.body_hash:
            raise KeyReusedError(f"{HEADER} was already used with a different request body")
        return Replay(row.status_code, row.response)

    def remember(self, status_code: int, response: Any) -> None:
        """Record the answer in the caller's transaction (a no-op without a key)."""
        if self.key is None:
            return
        self.conn.execute(
            update(idempotency_keys)
            .where(_t.key == self.key, _t.scope == self.scope)
            .values(status_code=status_code, response=response)
        )

    def _delete_expired(self, now: dt.datetime) -> None:
        expired = (
            select(_t.key, _t.scope)
            .where(_t.created_at <= now - TTL)
            .order_by(_t.created_at)
            .limit(CLEANUP_BATCH)
        )
        if self.conn.dialect.name == "postgresql":
            # Rows another cleanup is deleting are skipped, not waited for.
            expired = expired.with_for_update(skip_locked=True)
        self.conn.execute(delete(idempotency_keys).where(tuple_(_t.key, _t.scope).in_(expired)))
