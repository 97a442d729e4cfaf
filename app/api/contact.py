"""Messages from the site's contact form: anyone may send, only the admin may read them."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Request, Response

from app import counters, host_scope
from app.api import idempotent, schemas
from app.api.deps import DbConnection
from app.api.pagination import PageParams, page_params
from app.api.params import IdempotencyKey, pattern
from app.api.responses import ADMIN_ERRORS, BODY_ERRORS, DATABASE_ERRORS, NOT_FOUND
from app.api.schemas import END
from app.data import crud, idempotency, ratelimit
from app.security import Admin

# A message is at most 5,454 characters (name 200, e-mail 254, message 5,000). Escaped in the
# invocation payload an astral character costs 12 bytes, so one message can weigh ~65,500
# bytes and 100 of them 6.5 MB, past Lambda's 6 MB response limit (measured in
# tests/test_project_lists.py). 14 stay under ALB's 1 MB (~916,000 bytes at worst); `limit`
# asks for more and the answer says what was served, as for project lists.
INBOX_MAX_ITEMS = 14

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": schemas.ErrorBody,
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
    responses={**BODY_ERRORS, **_RATE_LIMITED},
)
async def send_message(
    request: Request,
    data: schemas.ContactCreate,
    conn: DbConnection,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Store a message (202). Per client, CONTACT_RATE_LIMIT messages per window, then 429."""
    sink = counters.for_app(request.app)
    if data.website.strip():
        # A bot: answer as usual so it learns nothing, store nothing, count it.
        sink.count(counters.CONTACT_HONEYPOT)
        return {"id": uuid.uuid4().hex, "status": "received"}
    # Anonymous callers are told apart by the identity their host reported (under Lambda,
    # API Gateway's sourceIp or ALB's entry), the same one the per-client limit counts, so
    # one visitor's key never replays, or blocks, another's message.
    client = host_scope.client_of(request.scope)
    caller = f"ip:{client or ''}"
    guard = idempotency.Guard.for_request(
        conn,
        key=idempotency_key,
        scope="POST /contact",
        caller=caller,
        body=data.model_dump(exclude={"website"}),
    )
    if (replayed := idempotent.claim(guard)) is not None:
        return replayed  # a retry of a message already counted
    settings = request.app.state.settings
    if client is None:
        # Pooling every visitor without an address into one allowance would let one of them
        # silence the form for all; without an address there is no one to count.
        logger.warning("no client address: per-client limit skipped", extra={"path": "/contact"})
        wait = None
    else:
        wait = ratelimit.hit(
            conn,
            client=ratelimit.client_id(ratelimit.client_key(settings), client),
            limit=settings.contact_rate_limit,
            window=dt.timedelta(seconds=settings.contact_rate_window_seconds),
            now=dt.datetime.now(dt.UTC),
        )
    if wait is not None:
        sink.count(counters.CONTACT_RATE_LIMITED)
        raise HTTPException(
            429, "too many messages, try again later", headers={"Retry-After": str(wait)}
        )
    receipt = {"id": crud.create_contact_message(conn, data=data), "status": "received"}
    guard.remember(202, receipt)
    # Background tasks run after the transaction has committed: only stored messages count.
    background.add_task(sink.count, counters.CONTACT_MESSAGE_RECEIVED)
    return receipt


@router.get("", response_model=schemas.Page[schemas.ContactMessage], responses=ADMIN_ERRORS)
async def list_messages(
    _: Admin,
    conn: DbConnection,
    page: Annotated[PageParams, Depends(page_params)],
    unread: bool | None = None,
) -> dict[str, Any]:
    """Messages newest first (admin only), at most INBOX_MAX_ITEMS a page; `unread=true` for
    the unread ones only."""
    limit = min(page.limit, INBOX_MAX_ITEMS)
    items, total = crud.list_contact_messages(conn, limit=limit, offset=page.offset, unread=unread)
    return {"items": items, "total": total, "limit": limit, "offset": page.offset}


@router.patch(
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


@router.delete(
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
