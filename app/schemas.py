"""Request and response bodies: what the API accepts and what it promises to return."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

# Every rule is a pattern, so the published OpenAPI schema refuses exactly what the app
# refuses. No string may hold NUL: PostgreSQL text cannot store it.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_TEXT = r"^[^\x00]*$"
_NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
# Deliberately simple: one @, no spaces, a dot in the domain. Full RFC 5322 checking would
# need email-validator (and dnspython) on the cold-start path for no real gain.
_EMAIL = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s.\x00]+$"
# URLs hold only the characters RFC 3986 allows in a URI (its unreserved and reserved sets
# and "%"; anything else, including the printable " < > \ ^ ` { | } it excludes, is
# percent-encoded), so each is one byte in the JSON answer and in Lambda's payload: this is
# what bounds a list page (LIST_MAX_ITEMS in app/api/projects.py).
_URI_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_AUTHORITY = r"[A-Za-z0-9\-._~%!$&'()*+,;=:@\[\]]+"
_HTTP_URL = rf"^[hH][tT][tT][pP][sS]?://{_AUTHORITY}(?:[/?#]{_URI_CHARS}*)?$"
_HTTPS_URL = rf"^[hH][tT][tT][pP][sS]://{_AUTHORITY}(?:[/?#]{_URI_CHARS}*)?$"

Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NOT_BLANK)]
Summary = Annotated[str, StringConstraints(max_length=500, pattern=_TEXT)]
Body = Annotated[str, StringConstraints(max_length=100_000, pattern=_TEXT)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=SLUG_PATTERN)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048, pattern=_HTTP_URL)]
Tags = Annotated[list[Tag], Field(max_length=20)]
HttpsUrl = Annotated[str, StringConstraints(max_length=2048, pattern=_HTTPS_URL)]
# Manual order for pinning: lower first, ahead of the date order; null means "not pinned".
Position = Annotated[int, Field(ge=0, le=10_000)]


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class _Strict(BaseModel):
    # Unknown fields are mistakes worth reporting, not silently dropping.
    model_config = ConfigDict(extra="forbid")


class _ProjectPresentation(_Strict):
    """How a project is shown: cover image, publication date, pinning (create and update)."""

    cover_image_url: HttpsUrl | None = None
    # Required with an image: alt text is what screen readers announce instead of it.
    cover_image_alt: Title | None = None
    # Set on first publish unless given; the public list is ordered by it, newest first.
    published_at: AwareDatetime | None = None
    position: Position | None = None


class _NewProjectPresentation(_ProjectPresentation):
    # The published schema says it too (JSON Schema's dependentRequired).
    model_config = ConfigDict(
        json_schema_extra={"dependentRequired": {"cover_image_url": ["cover_image_alt"]}}
    )

    @model_validator(mode="after")
    def _alt_with_image(self) -> _NewProjectPresentation:
        if self.cover_image_url is not None and self.cover_image_alt is None:
            raise ValueError("cover_image_alt is required when cover_image_url is set")
        return self


class ProjectCreate(_NewProjectPresentation):
    slug: Slug
    title: Title
    summary: Summary = ""
    body: Body = ""
    tags: Annotated[Tags, AfterValidator(_unique_tags)] = []
    url: HttpUrl | None = None
    repo_url: HttpUrl | None = None
    featured: bool = False
    published: bool = False


class ProjectUpdate(_ProjectPresentation):
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


class ProjectSummary(BaseModel):
    """A list item: everything but the body (LIST_MAX_ITEMS in app/api/projects.py: its bound)."""

    slug: str
    title: str
    summary: str
    tags: list[str]
    url: str | None
    repo_url: str | None
    cover_image_url: str | None
    cover_image_alt: str | None
    featured: bool
    published: bool
    published_at: dt.datetime | None
    position: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectPublic(ProjectSummary):
    body: str


class ContactCreate(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NOT_BLANK)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=_EMAIL)]
    message: Annotated[str, StringConstraints(min_length=1, max_length=5_000, pattern=_NOT_BLANK)]
    # Honeypot: hidden from people by the site's form, so only bots fill it in. A filled one
    # gets the usual 202 and nothing is stored.
    website: Summary = Field(
        default="", description="Leave empty: a form field hidden from people (a honeypot)."
    )


class ContactReceipt(BaseModel):
    id: str
    status: str = "received"


class ContactMessage(BaseModel):
    id: str
    name: str
    email: str
    message: str
    read: bool
    created_at: dt.datetime


class ContactUpdate(_Strict):
    # Strict: "yes" or 1 is a mistake to report, not a boolean to guess.
    read: StrictBool


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: str
    database: str | None = None


class ErrorBody(BaseModel):
    detail: str | list[dict[str, object]]
