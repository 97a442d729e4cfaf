"""Idempotency keys for POST routes: a retried request replays its first answer.

The key is stored in the same transaction as the write it guards, so either both exist or
neither does; a retry after a failure writes afresh, a retry after success writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from fastapi import HTTPException
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.tables import idempotency_keys

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def replay(
    conn: Connection, *, key: str | None, scope: str, body_hash: str
) -> tuple[int, Any] | None:
    """The stored (status, response) for this key, or None if the key is new (or absent)."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise HTTPException(422, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters")
    row = conn.execute(
        select(
            idempotency_keys.c.request_hash,
            idempotency_keys.c.status_code,
            idempotency_keys.c.response,
        ).where(idempotency_keys.c.key == key, idempotency_keys.c.scope == scope)
    ).first()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise HTTPException(422, f"{HEADER} was already used with a different request body")
    return row.status_code, row.response


def remember(
    conn: Connection,
    *,
    key: str | None,
    scope: str,
    body_hash: str,
    status_code: int,
    response: Any,
) -> None:
    """Record the answer in the caller's transaction (a no-op without a key)."""
    if key is None:
        return
    conn.execute(
        insert(idempotency_keys).values(
            key=key,
            scope=scope,
            request_hash=body_hash,
            status_code=status_code,
            response=response,
            created_at=dt.datetime.now(dt.UTC),
        )
    )
