"""Liveness (never touches the database) and readiness (proves the database answers)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import text

from app import host_scope
from app.api import public, schemas
from app.api.responses import ERROR_BODY
from app.data import db_limits

router = public.router(tags=["health"])


@router.get("/health", response_model=schemas.Health, response_model_exclude_none=True)
async def health() -> dict[str, str]:
    # async: no I/O here, so skip the threadpool hop (13 ms on the first call, measured).
    return {"status": "ok"}


@router.get(
    "/health/ready",
    response_model=schemas.Health,
    responses={503: {"content": ERROR_BODY, "description": "Database unreachable"}},
)
async def ready(request: Request) -> dict[str, str]:
    # Blocking on purpose, as the database routes do (see app/data/db.py: one event at a time).
    # Database errors become 503 in the app's exception handlers (app/errors.py).
    # Bounded like any request's database work: a stuck server is a 503 within the deadline.
    deadline = host_scope.deadline_of(request.scope)
    with db_limits.deadline(deadline), request.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}
