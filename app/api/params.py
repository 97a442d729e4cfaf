"""Path, query and header parameters shared by the routers, constrained like the bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from app.api.schemas import SLUG_PATTERN

SlugPath = Annotated[str, Path(max_length=80, pattern=SLUG_PATTERN)]
TagQuery = Annotated[str | None, Query(max_length=32, pattern=SLUG_PATTERN)]
# Printable ASCII only: the key is stored and compared as text.
IdempotencyKey = Annotated[
    str | None, Header(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
