"""Messages from the site's contact form: anyone may send, only the admin may read them."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app import counters, host_scope
from app.api import schemas
from app.api.deps import DbConnection
from app.api.pagination import PageParams, page_params
from app.api.params import IdempotencyKey, pattern
from app.api.responses import (
    ADMIN_ERRORS,
    BODY_ERRORS,
    CONTACT_ACCEPTED,
    DATABASE_ERRORS,
    ERROR_BODY,
    NOT_FOUND,
)
from app.api.schemas import END
from app.data import crud, db_limits
from app.errors import is_outage
from app.fallback import outbox
from app.fallback.budget import AbandonedError, OverBudgetError, attempt
from app.fallback.service import SOURCE_HEADER, Fallback
from app.fallback.store import StoreError
from app.security import Admin
from app.settings import Settings

# A message is at most 5,454 characters (name 200, e-mail 254, message 5,000). Escaped in the
# invocation payload an astral character costs 12 bytes, so one message can weigh ~65,500
# bytes and 100 of them 6.5 MB, past Lambda's 6 MB response limit (measured in
# tests/test_project_lists.py). 14 stay under ALB's 1 MB (~916,000 bytes at worst); `limit`
# asks for more and the answer says what was served, as for project lists.
INBOX_MAX_ITEMS = 14

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)
# The admin's inbox: included after every public router (see app/api/projects.py).
admin_router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "content": ERROR_BODY,
        "description": "Too many messages from this client; try again after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}
# The ids the API hands out (uuid4().hex).
MessageId = Annotated[str, Path(min_length=32, max_length=32, **pattern(rf"^[0-9a-f]{{32}}{END}"))]


def _not_found(message_id: str) -> HTTPException:
    return HTTPException(404, f"message {message_id!r} not found")


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


async def _drain_outbox(request: Request) -> None:
    """Before the inbox is read: move messages accepted while the database was away in.

    A dependency listed before the connection's, so it runs while the pool is free (a Lambda
    environment's pool holds one connection).
    """
    fallback = Fallback.for_app(request.app)
    if fallback is not None:
        with db_limits.deadline(host_scope.deadline_of(request.scope)):
            outbox.drain(
                request.state.engine,
                fallback.store,
                counters.for_app(request.app),
                request.app.state.settings,
            )


@admin_router.get("", response_model=schemas.Page[schemas.ContactMessage], responses=ADMIN_ERRORS)
async def list_messages(
    _: Admin,
    __: Annotated[None, Depends(_drain_outbox)],
    conn: DbConnection,
    page: Annotated[PageParams, Depends(page_params)],
    unread: bool | None = None,
) -> dict[str, Any]:
    """Messages newest first (admin only), at most INBOX_MAX_ITEMS a page; `unread=true` for
    the unread ones only."""
    limit = min(page.limit, INBOX_MAX_ITEMS)
    items, total = crud.list_contact_messages(conn, limit=limit, offset=page.offset, unread=unread)
    return {"items": items, "total": total, "limit": limit, "offset": page.offset}


@admin_router.patch(
    "/{message_id}",
    response_model=schemas.ContactMessage,
    responses={**ADMIN_ERRORS, **BODY_ERRORS, **NOT_FOUND},
)
async def mark_message(
    _: Admin, message_id: MessageId, data: schemas.ContactUpdate, conn: DbConnection
) -> dict[str, Any]:
    """Mark a message read or unread (admin only)."""
    message = crud.mark_contact_message(conn, message_id=message_id, read=data.read)
    if message is None:
        raise _not_found(message_id)
    return message


@admin_router.delete(
    "/{message_id}",
    status_code=204,
    response_class=Response,
    responses={**ADMIN_ERRORS, **NOT_FOUND},
)
async def delete_message(_: Admin, message_id: MessageId, conn: DbConnection) -> Response:
    """Erase a message for good: spam clean-up, erasure requests (admin only)."""
    if not crud.delete_contact_message(conn, message_id=message_id):
        raise _not_found(message_id)
    return Response(status_code=204)
