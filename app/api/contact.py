"""Messages from the site's contact form: anyone may send one (the admin reads them:
app/api/admin/contact.py)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app import counters, host_scope
from app.api import schemas
from app.api.params import IdempotencyKey
from app.api.responses import (
    BODY_ERRORS,
    CONTACT_ACCEPTED,
    DATABASE_ERRORS,
    ERROR_BODY,
)
from app.data import crud, db_limits
from app.errors import is_outage
from app.fallback import outbox
from app.fallback.budget import AbandonedError, OverBudgetError, attempt
from app.fallback.service import SOURCE_HEADER, Fallback
from app.fallback.store import StoreError
from app.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)
# The admin's inbox is in app/api/admin/contact.py.

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "content": ERROR_BODY,
        "description": "Too many messages from this client; try again after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}


@router.post(
    "",
    status_code=202,
    response_model=schemas.ContactReceipt,
    responses={**CONTACT_ACCEPTED, **BODY_ERRORS, **_RATE_LIMITED},
)
async def send_message(
    request: Request,
    response: Response,
    data: schemas.ContactCreate,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Store a message (202). Per client, CONTACT_RATE_LIMIT messages per window, then 429.

    With an object store configured, a database that does not answer within the read budget
    does not hold the visitor up: the message goes to the outbox (app/fallback/outbox.py).
    """
    # Loaded by the first message, not before a public read is answered.
    from app.data import idempotency, ratelimit

    sink = counters.for_app(request.app)
    if data.website.strip():
        # A bot: answer as usual so it learns nothing, store nothing, count it.
        sink.count(counters.CONTACT_HONEYPOT)
        return {"id": uuid.uuid4().hex, "status": "received"}
    settings = request.app.state.settings
    # Anonymous callers are told apart by the identity their host reported (under Lambda,
    # API Gateway's sourceIp or ALB's entry), the same one the per-client limit counts, so
    # one visitor's key never replays, or blocks, another's message.
    client = host_scope.client_of(request.scope)
    stored_key = (
        idempotency.scoped_key(f"ip:{client or ''}", idempotency_key) if idempotency_key else None
    )
    body_hash = idempotency.request_hash(data.model_dump(exclude={"website"}))
    limited = (
        None if client is None else ratelimit.client_id(ratelimit.client_key(settings), client)
    )
    if limited is None:
        # Pooling every visitor without an address into one allowance would let one of them
        # silence the form for all; without an address there is no one to count.
        logger.warning("no client address: per-client limit skipped", extra={"path": "/contact"})
    fallback = Fallback.for_app(request.app)
    engine = request.state.engine
    deadline = host_scope.deadline_of(request.scope)
    # Chosen before either path runs: a late database commit and the outbox then hold the
    # same id, and the drain's ON CONFLICT keeps one.
    message_id = uuid.uuid4().hex

    def work(abandoned: threading.Event) -> Any:
        if fallback is not None and (
            waiting := outbox.waiting_for_key(fallback.store, limited, stored_key, body_hash)
        ):
            return waiting  # accepted into the outbox while the database was away
        try:
            with db_limits.deadline(deadline), engine.begin() as conn:
                receipt = _store_message(
                    conn, data, settings, sink, message_id, stored_key, body_hash, limited
                )
                if fallback is not None and isinstance(receipt, dict) and abandoned.is_set():
                    raise AbandonedError  # the outbox has it: roll back
        except AbandonedError:
            if fallback is not None:
                outbox.drain_if_pending(engine, fallback, request.app)
            raise
        if isinstance(receipt, dict):
            # Counted after the commit: only stored messages notify the owner.
            sink.count(counters.CONTACT_MESSAGE_RECEIVED)
            if fallback is not None and stored_key is not None:
                _remember_key(fallback, limited, stored_key, body_hash, receipt["id"])
        if fallback is not None:
            outbox.drain_if_pending(engine, fallback, request.app)
        return receipt

    if fallback is None:
        return work(threading.Event())
    try:
        receipt = attempt(work, fallback.budget_seconds, fallback.breaker)
        response.headers[SOURCE_HEADER] = "database"
        return receipt
    except OverBudgetError:
        pass
    except SQLAlchemyError as error:
        if not is_outage(error):
            raise
    return _accept_in_outbox(
        fallback,
        sink,
        response,
        message_id=message_id,
        message=data.model_dump(exclude={"website"}),
        client=limited,
        stored_key=stored_key,
        body_hash=body_hash,
        limit=settings.contact_rate_limit if limited else None,
    )


def _accept_in_outbox(
    fallback: Fallback, sink: counters.Counters, response: Response, **message: Any
) -> Any:
    """The path without the database: the message into the outbox, answered 202 at once."""
    try:
        receipt = outbox.accept(fallback.store, **message)
    except HTTPException as refusal:
        if refusal.status_code == 429:
            sink.count(counters.CONTACT_RATE_LIMITED)
        raise
    fallback.outbox_pending.set()
    response.headers[SOURCE_HEADER] = "outbox"
    return receipt


def _remember_key(
    fallback: Fallback, client: str | None, stored_key: str, body_hash: str, message_id: str
) -> None:
    # So that a retry meeting the outbox path (the database paused again) replays too.
    try:
        outbox.remember_key(
            fallback.store,
            client=client,
            stored_key=stored_key,
            body_hash=body_hash,
            message_id=message_id,
        )
    except StoreError as error:
        logger.warning("idempotency key not recorded in the store: %s", error)


def _store_message(
    conn: Connection,
    data: schemas.ContactCreate,
    settings: Settings,
    sink: counters.Counters,
    message_id: str,
    stored_key: str | None,
    body_hash: str,
    client: str | None,
) -> Any:
    """The database path: claim the key, count the client, insert; the receipt or a replay."""
    from app.api import idempotent
    from app.data import idempotency, ratelimit

    guard = idempotency.Guard(conn, stored_key, "POST /contact", body_hash)
    if (replayed := idempotent.claim(guard)) is not None:
        return replayed  # a retry of a message already counted
    wait = None
    if client is not None:
        wait = ratelimit.hit(
            conn,
            client=client,
            limit=settings.contact_rate_limit,
            window=dt.timedelta(seconds=settings.contact_rate_window_seconds),
            now=dt.datetime.now(dt.UTC),
        )
    if wait is not None:
        sink.count(counters.CONTACT_RATE_LIMITED)
        raise HTTPException(
            429, "too many messages, try again later", headers={"Retry-After": str(wait)}
        )
    receipt = {
        "id": crud.create_contact_message(conn, fields=data.model_dump(), message_id=message_id),
        "status": "received",
    }
    guard.remember(202, receipt)
    return receipt
