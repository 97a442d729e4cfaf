"""Idempotency keys for POST routes: a retried request replays its first answer.

The key is stored in the same transaction as the write it guards, so either both exist or
neither does; a retry after a failure writes afresh, a retry after success writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.tables import idempotency_keys

HEADER = "Idempotency-Key"


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Guard:
    """One POST's idempotency: replay a stored answer, or remember the new one."""

    conn: Connection
    key: str | None
    scope: str
    body_hash: str

    @classmethod
    def for_request(cls, conn: Connection, *, key: str | None, scope: str, body: Any) -> Guard:
        return cls(conn, key, scope, request_hash(body))

    def replayed(self) -> JSONResponse | None:
        """The stored answer for this key, or None if the key is new (or absent)."""
        if self.key is None:
            return None
        row = self.conn.execute(
            select(
                idempotency_keys.c.request_hash,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(idempotency_keys.c.key == self.key, idempotency_keys.c.scope == self.scope)
        ).first()
        if row is None:
            return None
        if row.request_hash != self.body_hash:
            raise HTTPException(422, f"{HEADER} was already used with a different request body")
        return JSONResponse(row.response, status_code=row.status_code)

    def remember(self, status_code: int, response: Any) -> None:
        """Record the answer in the caller's transaction (a no-op without a key)."""
        if self.key is None:
            return
        self.conn.execute(
            insert(idempotency_keys).values(
                key=self.key,
                scope=self.scope,
                request_hash=self.body_hash,
                status_code=status_code,
                response=response,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
