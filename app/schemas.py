"""Request and response bodies: what the API accepts and what it promises to return."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# Every rule is a pattern, so the published OpenAPI schema refuses exactly what the app
# refuses. No string may hold NUL: PostgreSQL text cannot store it.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_TEXT = r"^[^\x00]*$"
_NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 checking would
# need email-validator (and dnspython) on the cold-start path for no real gain.
_EMAIL = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s.\x00]+$"
_HTTP_URL = r"^[hH][tT][tT][pP][sS]?://[^\s/?#\x00]+(?:[/?#][^\s\x00]*)?$"

Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Summary = Annotated[str, StringConstraints(max_length=500, pattern=_TEXT)]
Body = Annotated[str, StringConstraints(max_length=100_000, pattern=_TEXT)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=SLUG_PATTERN)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048, pattern=_HTTP_URL)]
Tags = Annotated[list[Tag], Field(max_length=20)]


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class _Strict(BaseModel):
    # Unknown fields are mistakes worth reporting, not silently dropping.
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(_Strict):
    slug: Slug
    title: Title
    summary: Summary = ""
    body: Body = ""
    tags: Annotated[Tags, AfterValidator(_unique_tags)] = []
    url: HttpUrl | None = None
    repo_url: HttpUrl | None = None
    featured: bool = False
    published: bool = False


class ProjectUpdate(_Strict):
    """Every field optional; only the fields sent are changed."""

    slug: Slug | None = None
    title: Title | None = None
    summary: Summary | None = None
    body: Body | None = None
    tags: Annotated[Tags, AfterValidator(_unique_tags)] | None = None
    url: HttpUrl | None = None
    repo_url: HttpUrl | None = None
    featured: bool | None = None
    published: bool | None = None


class ProjectPublic(BaseModel):
    slug: str
    title: str
    summary: str
    body: str
    tags: list[str]
    url: str | None
    repo_url: str | None
    featured: bool
    published: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactCreate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NOT_BLANK)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=_EMAIL)]
    message: Annotated[str, StringConstraints(min_length=1, max_length=5_000, pattern=_NOT_BLANK)]


class ContactReceipt(BaseModel):
    id: str
    status: str = "received"


class ContactMessage(BaseModel):
    id: str
    name: str
    email: str
    message: str
    created_at: dt.datetime


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    database: str | None = None


class ValidationIssue(BaseModel):
    """One problem of a 422: its kind, where it is, and why; never the value sent."""

    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    detail: str | list[ValidationIssue]
