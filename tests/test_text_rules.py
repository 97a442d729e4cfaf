"""What a text field may hold, identical in the app and in the published schema (issue 10,
items 5 and 11): no control characters but tab, newline and carriage return; no surrogates;
titles and names with something visible; and field limits that fit the body limit."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from app.api.schemas import ContactCreate, ProjectCreate, ProjectUpdate
from app.main import create_app
from app.settings import Settings

OPENAPI = create_app(Settings(database_url="sqlite://")).openapi()
VALID: dict[type[BaseModel], dict[str, Any]] = {
    ProjectCreate: {"slug": "a", "title": "t"},
    ProjectUpdate: {},
    ContactCreate: {"name": "a", "email": "a@example.com", "message": "m"},
}
TEXT_FIELDS = [
    (ProjectCreate, "title"),
    (ProjectCreate, "summary"),
    (ProjectCreate, "body"),
    (ProjectUpdate, "title"),
    (ProjectUpdate, "summary"),
    (ProjectUpdate, "body"),
    (ContactCreate, "name"),
    (ContactCreate, "message"),
]
CONTROLS = ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1c", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
INVISIBLE = ["\u200b", "\u2800", "\u3164", "\ufeff", "\u00ad\u200d", "\u2060", "\u180e", " \u3000"]


def _schema_accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    document = {"$ref": f"#/components/schemas/{model.__name__}", **OPENAPI}
    return jsonschema.Draft202012Validator(document).is_valid(body)


def _app_accepts(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("char", CONTROLS)
@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS)
def test_control_characters_are_refused_by_app_and_schema(
    model: type[BaseModel], field: str, char: str
) -> None:
    body = {**VALID[model], field: f"a{char}b"}
    assert (_app_accepts(model, body), _schema_accepts(model, body)) == (False, False)


@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS)
def test_tab_newline_and_carriage_return_are_text(model: type[BaseModel], field: str) -> None:
    body = {**VALID[model], field: "a\tb\r\nc"}
    assert (_app_accepts(model, body), _schema_accepts(model, body)) == (True, True)


@pytest.mark.parametrize("blank", INVISIBLE)
@pytest.mark.parametrize(
    ("model", "field"),
    [(ProjectCreate, "title"), (ProjectUpdate, "title"), (ContactCreate, "name")],
)
def test_names_of_invisible_characters_only_are_refused(
    model: type[BaseModel], field: str, blank: str
) -> None:
    body = {**VALID[model], field: blank}
    assert (_app_accepts(model, body), _schema_accepts(model, body)) == (False, False)
    visible = {**VALID[model], field: f"{blank}x{blank}"}
    assert (_app_accepts(model, visible), _schema_accepts(model, visible)) == (True, True)


@pytest.mark.parametrize("char", ["\x1c", "\x1f"])
def test_the_schema_and_app_agree_on_what_python_calls_whitespace(char: str) -> None:
    # Python's re counts U+001C..U+001F as \s, Rust's regex does not: the review's
    # "schema-violating request accepted".
    body = {"title": char}
    assert (_app_accepts(ProjectUpdate, body), _schema_accepts(ProjectUpdate, body)) == (
        False,
        False,
    )


def test_url_fields_are_printable_ascii() -> None:
    for url in ("https://example.com/\u00e9", "https://exa\u200bmple.com", "https://e.com/\x7f"):
        body = {"slug": "a", "title": "t", "url": url}
        assert (_app_accepts(ProjectCreate, body), _schema_accepts(ProjectCreate, body)) == (
            False,
            False,
        )


def _largest(model: type[BaseModel]) -> dict[str, Any]:
    """Every field at its maximum length, in the character that costs most to send."""
    astral = "\U0001f40d"  # 4 bytes as UTF-8, 12 as the JSON escape "\\ud83d\\udc0d"
    properties = OPENAPI["components"]["schemas"][model.__name__]["properties"]
    body: dict[str, Any] = {}
    for name, prop in properties.items():
        options = prop.get("anyOf", [prop])
        string = next((o for o in options if o.get("type") == "string"), None)
        array = next((o for o in options if o.get("type") == "array"), None)
        if name == "slug":
            body[name] = "a" * string["maxLength"]
        elif name == "email":  # '"' is ASCII but escaped as two bytes
            body[name] = '"' * (string["maxLength"] - 5) + "@b.co"
        elif name.endswith("url"):  # RFC 3986 characters only: each one byte in any encoding
            body[name] = "https://a/" + "%" * (string["maxLength"] - 10)
        elif string is not None and string.get("format") == "date-time":
            body[name] = "2026-11-29T10:00:00.123456+00:00"
        elif string is not None:
            body[name] = astral * string["maxLength"]
        elif array is not None:
            body[name] = ["a" * array["items"]["maxLength"]] * array["maxItems"]
        elif integer := next((o for o in options if o.get("type") == "integer"), None):
            body[name] = int(integer["maximum"])  # JSON integers are strict: 10000, not 10000.0
        else:
            body[name] = False
    return body


@pytest.mark.parametrize("model", [ProjectCreate, ProjectUpdate, ContactCreate])
def test_the_largest_valid_body_fits_the_body_limit_in_any_encoding(
    model: type[BaseModel],
) -> None:
    body = _largest(model)
    model.model_validate(body)  # valid: the app would store it
    # Python's default json.dumps escapes every non-ASCII character: the costliest encoding.
    size = len(json.dumps(body).encode())
    assert size <= Settings(database_url="sqlite://").max_body_bytes, size
