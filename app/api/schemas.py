"""Request and response bodies: what the API accepts and what it promises to return."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

# Every rule is a pattern, so the published OpenAPI schema refuses exactly what the app
# refuses, in every engine that reads it: Python's re (the models, regex_engine below, and
# Python validators), Rust's regexes (jsonschema-rs, schemathesis 4) and ECMA-262 with and
# without the `u` flag (browsers, Ajv, generated clients); tests/test_schema_portability.py
# compiles each pattern in all four and checks that they agree on a corpus. Hence:
# - explicit character classes, never \s or \w: engines disagree on them (Python's re counts
#   U+001C..U+001F as \s, Rust's regex does not);
# - only \xXX and \uXXXX escapes of BMP characters: the only ones all four read alike;
# - the end is END: Python's `$` also matches before a final newline ("a-b\n" was a valid
#   slug); the look-ahead makes it the very end in Python, and changes nothing elsewhere;
# - no surrogates: Rust refuses `\ud800` escapes as invalid regexes, and ECMA-262 without `u`
#   sees an astral character as two surrogates. Lone surrogates (valid JSON escapes, not
#   Unicode text, not storable as UTF-8) are refused outside the patterns (by pydantic, see
#   _UnicodeNote), and the fields' descriptions say so;
# - no astral characters: ECMA-262 without `u` cannot put them in a class. So "something
#   visible" leaves out the BMP's invisible characters only (see _INVISIBLE).
END = r"$(?!\n)"
# Control characters (C0, DEL, C1) but tab, newline and carriage return; NUL also because
# PostgreSQL text cannot store it.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Unicode White_Space (tab, newline, carriage return and the spaces).
_SPACE = r"\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters that render as nothing: Unicode's Default_Ignorable_Code_Point in the BMP,
# plus the braille blank. A title of these alone looks empty. The astral ones (tags
# U+E0000..E0FFF, variation selectors supplement, shorthand and musical format controls)
# cannot be written portably (above): a title of those alone counts as visible.
_INVISIBLE = (
    r"\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
)
_TEXT_CHAR = f"[^{_CONTROL}]"
_VISIBLE_CHAR = f"[^{_CONTROL}{_SPACE}{_INVISIBLE}]"

SLUG_PATTERN = rf"^[a-z0-9]+(?:-[a-z0-9]+)*{END}"
_TEXT = f"^{_TEXT_CHAR}*{END}"
# Blank characters, one visible character, then any text: linear to match (the classes are
# disjoint, so nothing backtracks).
_NOT_BLANK = f"^[{_SPACE}{_INVISIBLE}]*{_VISIBLE_CHAR}{_TEXT_CHAR}*{END}"
# Deliberately simple: one @, nothing blank, a dot in the domain. Full RFC 5322 checking
# would need email-validator (and dnspython) on the cold-start path for no real gain.
_EMAIL_CHAR = f"[^@{_CONTROL}{_SPACE}{_INVISIBLE}]"
_EMAIL_LAST = f"[^@.{_CONTROL}{_SPACE}{_INVISIBLE}]"
_EMAIL = f"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\\.{_EMAIL_LAST}+{END}"
# URLs hold only the characters RFC 3986 allows in a URI (its unreserved and reserved sets
# and "%"; anything else, including the printable " < > \ ^ ` { | } it excludes, is
# percent-encoded), so each is one byte in the JSON answer and in Lambda's payload: this is
# what bounds a list page (LIST_MAX_ITEMS in app/api/projects.py). The host part stops at
# / ? #; no spaces, controls or look-alike and invisible characters in a link.
_URI_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_AUTHORITY = r"[A-Za-z0-9\-._~%!$&'()*+,;=:@\[\]]+"
_HTTP_URL = rf"^[hH][tT][tT][pP][sS]?://{_AUTHORITY}(?:[/?#]{_URI_CHARS}*)?{END}"
_HTTPS_URL = rf"^[hH][tT][tT][pP][sS]://{_AUTHORITY}(?:[/?#]{_URI_CHARS}*)?{END}"

# The body limit (MAX_BODY_BYTES, 256 KiB) must admit every valid document however it is
# encoded: a client that escapes non-ASCII (Python's json.dumps) sends an astral character
# as 12 bytes ("\ud83d\udc0d"). 20,000 such characters plus every other field at its maximum
# stay under 256 KiB (tests/test_text_rules.py computes the worst case).
BODY_MAX_CHARS = 20_000

# Said in the schema; enforced by pydantic itself, which refuses any str that is not Unicode
# text (a JSON "\ud800" escape arrives as a code point UTF-8 cannot encode): a 422 of type
# string_unicode, whatever the field.
_UnicodeNote = Field(
    description=(
        "Lone surrogates (unpaired \\ud800-\\udfff escapes) are refused: they are not Unicode "
        "text, and no pattern every regex engine reads can say so."
    )
)

Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NOT_BLANK),
    _UnicodeNote,
]
Summary = Annotated[str, StringConstraints(max_length=500, pattern=_TEXT), _UnicodeNote]
Body = Annotated[str, StringConstraints(max_length=BODY_MAX_CHARS, pattern=_TEXT), _UnicodeNote]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=SLUG_PATTERN)]
HttpUrl = Annotated[str, StringConstraints(max_length=2048, pattern=_HTTP_URL)]
Tags = Annotated[list[Tag], Field(max_length=20)]
HttpsUrl = Annotated[str, StringConstraints(max_length=2048, pattern=_HTTPS_URL)]
# Manual order for pinning: lower first, ahead of the date order; null means "not pinned".
# JSON types are strict everywhere: "5", 5.0 or true is a client's bug to report, as the
# schema's integer/boolean says, not a value to guess.
Position = Annotated[int, Field(ge=0, le=10_000, strict=True)]
# RFC 3339 as JSON Schema's date-time has it, with an offset; pydantic alone would also take
# a number (or a string of digits) as a Unix time.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)")


def _rfc3339_text(value: object) -> object:
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    return value


def _within_utc_calendar(value: dt.datetime) -> dt.datetime:
    # Stored and compared in UTC (app/data/tables.py): 0001-01-01T00:00:00+01:00 is a year-0
    # instant in UTC that Python's datetime cannot hold (an OverflowError, once a 500).
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("must lie between 0001-01-01 and 9999-12-31 in UTC") from None
    return value


Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_within_utc_calendar)
]


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class _Deferred(BaseModel):
    # Built on first use, not at import: the admin's and the form's bodies are not needed to
    # answer a public read, and building their validators cost cold starts a few ms.
    model_config = ConfigDict(defer_build=True)


class _Strict(_Deferred):
    # Unknown fields are mistakes worth reporting, not silently dropping.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class _ProjectPresentation(_Strict):
    """How a project is shown: cover image, publication date, pinning (create and update)."""

    cover_image_url: HttpsUrl | None = None
    # Required with an image: alt text is what screen readers announce instead of it.
    cover_image_alt: Title | None = None
    # Set on first publish unless given; the public list is ordered by it, newest first.
    published_at: Timestamp | None = None
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
    featured: StrictBool = False
    published: StrictBool = False


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _not_nullable() -> Any:
    """Optional to send, but never null: the default only marks the field as not sent.

    The schema then types the field without null and without a default, as the app treats
    it: an explicit null is a 422, not a NOT NULL violation reported as a conflict.
    """
    return Field(default=None, json_schema_extra=_no_default)


class ProjectUpdate(_ProjectPresentation):
    """Every field optional; only the fields sent are changed. `url`, `repo_url` and the
    presentation fields take null (clearing them); null for any other field is refused."""

    slug: Slug = _not_nullable()
    title: Title = _not_nullable()
    summary: Summary = _not_nullable()
    body: Body = _not_nullable()
    tags: Annotated[Tags, AfterValidator(_unique_tags)] = _not_nullable()
    url: HttpUrl | None = None
    repo_url: HttpUrl | None = None
    featured: StrictBool = _not_nullable()
    published: StrictBool = _not_nullable()


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
    name: Title
    email: Annotated[str, StringConstraints(max_length=254, pattern=_EMAIL), _UnicodeNote]
    message: Annotated[
        str,
        StringConstraints(min_length=1, max_length=5_000, pattern=_NOT_BLANK),
        _UnicodeNote,
    ]
    # Honeypot: hidden from people by the site's form, so only bots fill it in. A filled one
    # gets the usual 202 and nothing is stored.
    website: Summary = Field(
        default="", description="Leave empty: a form field hidden from people (a honeypot)."
    )


class ContactReceipt(BaseModel):
    id: str
    status: str = "received"


class ContactMessage(_Deferred):
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


class ValidationIssue(BaseModel):
    """One problem of a 422: its kind, where it is, and why; never the value sent."""

    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    detail: str | list[ValidationIssue]
