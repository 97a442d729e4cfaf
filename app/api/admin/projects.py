"""The admin's writes to projects (declared on first use: app/api/deferred.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from app.api import schemas
from app.api.deps import DbConnection
from app.api.params import IdempotencyKey, SlugPath
from app.api.projects import not_found
from app.api.responses import (
    ADMIN_ERRORS,
    BODY_ERRORS,
    DATABASE_ERRORS,
    ERROR_BODY,
    NOT_FOUND,
    snapshot_written,
)
from app.data import crud
from app.fallback import publishing
from app.security import Admin

router = APIRouter(prefix="/projects", tags=["projects"], responses=DATABASE_ERRORS)

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"content": ERROR_BODY, "description": "Slug already taken"}
}


@router.post(
    "",
    status_code=201,
    response_model=schemas.ProjectPublic,
    responses={**snapshot_written(201), **ADMIN_ERRORS, **BODY_ERRORS, **_CONFLICT},
)
async def create_project(
    request: Request,
    _: Admin,
    data: schemas.ProjectCreate,
    conn: DbConnection,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    # Loaded by the first write, not when the routes are declared (the OpenAPI document is).
    from app.api import idempotent
    from app.data import idempotency

    guard = idempotency.Guard.for_request(
        conn, key=idempotency_key, scope="POST /projects", caller="admin", body=data.model_dump()
    )
    if (replayed := idempotent.claim(guard)) is not None:
        return replayed
    created = crud.create_project(conn, fields=data.model_dump())
    publishing.mark(request.scope)
    if created is None:
        raise HTTPException(409, f"project {data.slug!r} already exists")
    project = schemas.ProjectPublic.model_validate(created)
    guard.remember(201, project.model_dump(mode="json"))
    return project


@router.patch(
    "/{slug}",
    response_model=schemas.ProjectPublic,
    responses={**snapshot_written(200), **ADMIN_ERRORS, **BODY_ERRORS, **NOT_FOUND, **_CONFLICT},
)
async def update_project(
    request: Request, _: Admin, slug: SlugPath, data: schemas.ProjectUpdate, conn: DbConnection
) -> dict[str, Any]:
    if (
        data.slug not in (None, slug)
        and crud.get_project(conn, slug=data.slug, published_only=False) is not None
    ):
        raise HTTPException(409, f"project {data.slug!r} already exists")
    project = crud.update_project(conn, slug=slug, sent=data.model_dump(exclude_unset=True))
    publishing.mark(request.scope)
    if project is None:
        raise not_found(slug)
    if project["cover_image_url"] is not None and project["cover_image_alt"] is None:
        # Raising rolls the whole update back.
        raise HTTPException(422, "cover_image_alt is required when cover_image_url is set")
    return project


@router.delete(
    "/{slug}",
    status_code=204,
    response_class=Response,
    responses={**snapshot_written(204), **ADMIN_ERRORS, **NOT_FOUND},
)
async def delete_project(
    request: Request, _: Admin, slug: SlugPath, conn: DbConnection
) -> Response:
    publishing.mark(request.scope)
    if not crud.delete_project(conn, slug=slug):
        raise not_found(slug)
    return Response(status_code=204)
