"""Query parameters shared by the paged list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

MAX_LIMIT = 100


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> PageParams:
    """`limit` and `offset` of a paged list.

    async, like every dependency here: FastAPI runs a sync dependency in its threadpool,
    and that hop yields the event loop while the route may already hold its connection
    (see app/data/db.py).
    """
    return PageParams(limit=limit, offset=offset)
