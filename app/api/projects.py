"""The portfolio's projects: public reads (the admin's writes: app/api/admin/projects.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request, Response

from app.api import public, schemas
from app.api.deps import reading
from app.api.pagination import PageParams, page_params
from app.api.params import SlugPath, TagQuery
from app.api.responses import (
    DATABASE_ERRORS,
    ERROR_BODY,
    NOT_FOUND,
    PUBLIC_READ,
)
from app.data import crud
from app.fallback import reads as fallback_reads
from app.security import is_admin_attempt, require_admin

router = public.router(prefix="/projects", tags=["projects"], responses=DATABASE_ERRORS)
# The admin's writes are in app/api/admin/projects.py.


# Items per list page, whatever `limit` asks for (the answer's `limit` says what was used).
# The bound follows from the field limits in app/api/schemas.py, counted in the invocation payload
# (the API's JSON inside the runtime's JSON, which writes non-ASCII as \uXXXX escapes): a text
# character costs at most 12 bytes there (an astral character, a surrogate pair of escapes),
# a URL character 1 (RFC 3986 only); slugs and tags are ASCII. title 200 + summary 500 +
# cover_image_alt 200 characters: 10,800 bytes; three URLs 6,144; 20 tags ~800; keys, dates,
# numbers and punctuation ~1,200: under 19,000 bytes an item, so 50 items stay under 950,000
# bytes, below ALB's 1 MB response limit (the worst page measures 905,373 bytes in
# tests/test_project_lists.py). One project adds its body: 20,000 characters, 240,000 bytes
# at most, far below Lambda's 6 MB.
LIST_MAX_ITEMS = 50
_NO_STORE = {"Cache-Control": "no-store"}
_DRAFT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"content": ERROR_BODY, "description": "Drafts asked for without the admin token"},
}


def not_found(slug: str) -> HTTPException:
    return HTTPException(404, f"project {slug!r} not found")


@router.get(
    "",
    response_model=schemas.Page[schemas.ProjectSummary],
    responses={**PUBLIC_READ, **_DRAFT_ERRORS},
)
async def list_projects(
    request: Request,
    response: Response,
    page: Annotated[PageParams, Depends(page_params)],
    tag: TagQuery = None,
    featured: bool | None = None,
    status: Literal["published", "draft", "all"] = "published",
) -> dict[str, Any]:
    """Project summaries (no body), pinned first, then newest published first.

    `status=draft` or `all` shows unpublished projects too, to the admin only. The public
    list comes from the snapshot when the database does not answer within the read budget.
    """
    limit = min(page.limit, LIST_MAX_ITEMS)
    # The same query for every source: the database (drafts too, for the admin) or the snapshot.
    query: dict[str, Any] = {
        "limit": limit,
        "offset": page.offset,
        "tag": tag,
        "featured": featured,
    }
    if status != "published":
        await require_admin(request)
        response.headers.update(_NO_STORE)
        published = {"draft": False, "all": None}[status]
        with reading(request) as read:
            items, total = read(crud.list_projects, published=published, **query)
    else:
        items, total = fallback_reads.serve(
            request,
            response,
            from_db=lambda public, carry: public(crud.list_projects, carry=carry, **query),
            from_snapshot=lambda snap: snap.page(**query),
        )
    return {"items": items, "total": total, "limit": limit, "offset": page.offset}


@router.get(
    "/{slug}",
    response_model=schemas.ProjectPublic,
    responses={**PUBLIC_READ, **NOT_FOUND, **_DRAFT_ERRORS},
)
async def get_project(request: Request, response: Response, slug: SlugPath) -> dict[str, Any]:
    """A published project; with the admin token, a draft too (preview)."""
    if is_admin_attempt(request):
        await require_admin(request)  # a Bearer token that is sent must be right: 401 otherwise
        response.headers.update(_NO_STORE)
        with reading(request) as read:
            project = read(crud.get_project, slug=slug, published_only=False)
    else:
        project = fallback_reads.serve(
            request,
            response,
            from_db=lambda public, carry: public(
                crud.get_project, slug=slug, published_only=True, carry=carry
            ),
            from_snapshot=lambda snap: snap.project(slug),
        )
    if project is None:
        raise not_found(slug)
    return project
