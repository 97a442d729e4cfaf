"""Messages from the site's contact form: anyone may send, only the admin may read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app import crud, idempotency, schemas
from app.api.params import IdempotencyKey
from app.api.responses import BODY_ERRORS, DATABASE_ERRORS
from app.db import DbConnection
from app.pagination import PageParams, page_params
from app.security import Admin

router = APIRouter(prefix="/contact", tags=["contact"], responses=DATABASE_ERRORS)


@router.post("", status_code=202, response_model=schemas.ContactReceipt, responses=BODY_ERRORS)
async def send_message(
    request: Request,
    data: schemas.ContactCreate,
    conn: DbConnection,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    # Anonymous callers are told apart by source address (API Gateway's sourceIp), so one
    # visitor's key never replays, or blocks, another's message.
    caller = f"ip:{request.client.host}" if request.client else "ip:"
    guard = idempotency.Guard.for_request(
        conn, key=idempotency_key, scope="POST /contact", caller=caller, body=data.model_dump()
    )
    if (replayed := guard.claim()) is not None:
        return replayed
    receipt = {"id": crud.create_contact_message(conn, data=data), "status": "received"}
    guard.remember(202, receipt)
    return receipt


@router.get(
    "",
    response_model=schemas.Page[schemas.ContactMessage],
    responses={401: {"model": schemas.ErrorBody}, 503: {"model": schemas.ErrorBody}},
)
async def list_messages(
    _: Admin, conn: DbConnection, page: Annotated[PageParams, Depends(page_params)]
) -> dict[str, Any]:
    """Messages newest first (admin only)."""
    items, total = crud.list_contact_messages(conn, limit=page.limit, offset=page.offset)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
