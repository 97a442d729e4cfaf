"""The portfolio's projects: public reads, admin writes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response

from app import crud, idempotency, schemas
from app.api.params import IdempotencyKey, SlugPath, TagQuery
from app.api.responses import BODY_ERRORS, DATABASE_ERRORS
from app.db import DbConnection
from app.pagination import PageParams, page_params
from app.security import Admin

router = APIRouter(prefix="/projects", tags=["projects"], responses=DATABASE_ERRORS)

_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorBody, "description": "Missing or wrong admin token"},
    503: {
        "model": schemas.ErrorBody,
        "description": "Admin access not configured or database unavailable",
    },
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.ErrorBody}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": schemas.ErrorBody, "description": "Slug already taken"}
}


def _not_found(slug: str) -> HTTPException:
    return HTTPException(404, f"project {slug!r} not found")


@router.get("", response_model=schemas.Page[schemas.ProjectPublic])
async def list_projects(
    conn: DbConnection,
    page: Annotated[PageParams, Depends(page_params)],
    tag: TagQuery = None,
    featured: bool | None = None,
) -> dict[str, Any]:
    """Published projects, newest first."""
    items, total = crud.list_projects(
        conn, limit=page.limit, offset=page.offset, tag=tag, featured=featured
    )
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/{slug}", response_model=schemas.ProjectPublic, responses=_NOT_FOUND)
async def get_project(slug: SlugPath, conn: DbConnection) -> dict[str, Any]:
    project = crud.get_project(conn, slug=slug, published_only=True)
    if project is None:
        raise _not_found(slug)
    return project


@router.post(
    "",
    status_code=201,
    response_model=schemas.ProjectPublic,
    responses={**_ADMIN_ERRORS, **BODY_ERRORS, **_CONFLICT},
)
async def create_project(
    _: Admin,
    data: schemas.ProjectCreate,
    conn: DbConnection,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    guard = idempotency.Guard.for_request(
        conn, key=idempotency_key, scope="POST /projects", caller="admin", body=data.model_dump()
    )
    if (replayed := guard.claim()) is not None:
        return replayed
    created = crud.create_project(conn, data=data)
    if created is None:
        raise HTTPException(409, f"project {data.slug!r} already exists")
    project = schemas.ProjectPublic.model_validate(created)
    guard.remember(201, project.model_dump(mode="json"))
    return project


@router.patch(
    "/{slug}",
    response_model=schemas.ProjectPublic,
    responses={**_ADMIN_ERRORS, **BODY_ERRORS, **_NOT_FOUND, **_CONFLICT},
)
async def update_project(
    _: Admin, slug: SlugPath, data: schemas.ProjectUpdate, conn: DbConnection
) -> dict[str, Any]:
    if (
        data.slug not in (None, slug)
        and crud.get_project(conn, slug=data.slug, published_only=False) is not None
    ):
        raise HTTPException(409, f"project {data.slug!r} already exists")
    project = crud.update_project(conn, slug=slug, data=data)
    if project is None:
        raise _not_found(slug)
    return project


@router.delete(
    "/{slug}", status_code=204, response_class=Response, responses={**_ADMIN_ERRORS, **_NOT_FOUND}
)
async def delete_project(_: Admin, slug: SlugPath, conn: DbConnection) -> Response:
    if not crud.delete_project(conn, slug=slug):
        raise _not_found(slug)
    return Response(status_code=204)
