"""Query parameters shared by the paged list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

MAX_LIMIT = 100


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)
