"""The admin's inbox: the contact form's messages (declared on first use:
app/api/deferred.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from app import counters, host_scope
from app.api import schemas
from app.api.deps import DbConnection
from app.api.pagination import PageParams, page_params
from app.api.params import pattern
from app.api.responses import ADMIN_ERRORS, BODY_ERRORS, DATABASE_ERRORS, NOT_FOUND
from app.api.schemas import END
from app.data import crud, db_limits
from app.fallback import outbox
from app.fallback.service import Fallback
from app.security import Admin

# A message is at most 5,454 characters (name 200, e-mail 254, message 5,000). Escaped in the
# invocation payload an astral character costs 12 bytes, so one message can weigh ~65,500
# bytes and 100 of them 6.5 MB, past Lambda's 6 MB response limit (measured in
# tests/test_project_lists.py). 14 stay under ALB's 1 MB (~916,000 bytes at worst); `limit`
# asks for more and the answer says what was served, as for project lists.
INBOX_MAX_ITEMS = 14

router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)

# The ids the API hands out (uuid4().hex).
MessageId = Annotated[str, Path(min_length=32, max_length=32, **pattern(rf"^[0-9a-f]{{32}}{END}"))]


def _not_found(message_id: str) -> HTTPException:
    return HTTPException(404, f"message {message_id!r} not found")


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


@router.get("", response_model=schemas.Page[schemas.ContactMessage], responses=ADMIN_ERRORS)
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
