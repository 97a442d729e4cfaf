"""The HTTP side of idempotency keys: a replay is a JSON answer, a reused key a 422."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from app.data import idempotency


def claim(guard: idempotency.Guard) -> JSONResponse | None:
    """None when this request owns its key (or has none); else the answer to send again."""
    try:
        replay = guard.claim()
    except idempotency.KeyReusedError as error:
        raise HTTPException(422, str(error)) from None
    if replay is None:
        return None
    return JSONResponse(replay.body, status_code=replay.status_code)
