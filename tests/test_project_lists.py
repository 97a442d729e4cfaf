"""List pages are summaries whose size is bounded by the field limits, at any `limit`.

The worst page is built, not imagined: every field at its maximum length, filled with the
character that costs the most bytes among those the API accepts for it, measured as the
invocation payload awslambdaric really sends (the API's JSON inside Lambda's JSON, written by
the runtime's own encoder).
"""

from __future__ import annotations

import json
from typing import Any

from awslambdaric.lambda_runtime_marshaller import to_json
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from app.api import schemas
from app.api.projects import LIST_MAX_ITEMS
from app.data import crud
from tests.client import LambdaClient
from tests.conftest import lambda_context

# ALB's limit on a Lambda target's response (the strictest front door), and Lambda's own.
ALB_LIMIT = 1_000_000
LAMBDA_LIMIT = 6 * 1024 * 1024
# Candidates for the costliest character: a C0 control ("\u0001" in the answer, escaped again
# in the payload), an astral character (4 bytes of UTF-8, 12 as the surrogate-pair escape the
# runtime's JSON encoder writes), a quote (escaped twice), a letter.
CANDIDATES = ["\x01", "\U0001f600", '"', "a"]


def _payload_bytes(char: str) -> int:
    """What one character costs in the invocation payload: the API's JSON inside Lambda's."""
    return len(to_json({"body": json.dumps(char, ensure_ascii=False)}).encode()) - len(
        to_json({"body": json.dumps("", ensure_ascii=False)}).encode()
    )


def _worst(field: str, length: int, prefix: str = "") -> str:
    """The costliest value of `length` characters that ProjectCreate accepts for `field`."""
    accepted = []
    for char in CANDIDATES:
        value = prefix + char * (length - len(prefix))
        try:
            schemas.ProjectCreate(
                **{"slug": "x", "title": "x", "cover_image_alt": "x", field: value}
            )
        except ValidationError:
            continue
        accepted.append((_payload_bytes(char), value))
    assert accepted, f"no candidate accepted for {field}"
    return max(accepted)[1]


def _max_length(model: type[Any], field: str) -> int:
    for meta in model.model_fields[field].metadata:
        if getattr(meta, "max_length", None) is not None:
            return int(meta.max_length)
    raise AssertionError(field)


def _worst_project(index: int) -> schemas.ProjectCreate:
    url = "https://example.com/"
    return schemas.ProjectCreate(
        slug=f"p{index:03d}" + "a" * 76,
        title=_worst("title", _max_length(schemas.ProjectCreate, "title")),
        summary=_worst("summary", _max_length(schemas.ProjectCreate, "summary")),
        body=_worst("body", _max_length(schemas.ProjectCreate, "body")),
        tags=[f"{t:02d}" + "t" * 30 for t in range(20)],
        url=_worst("url", 2048, url),
        repo_url=_worst("repo_url", 2048, url),
        cover_image_url=_worst("cover_image_url", 2048, url),
        cover_image_alt=_worst("cover_image_alt", 200),
        featured=True,
        published=True,
        position=10_000,
    )


def test_list_items_carry_everything_but_the_body(client: LambdaClient) -> None:
    created = client.post(
        "/projects", {"slug": "a", "title": "A", "body": "long", "published": True}, admin=True
    ).json()
    item = client.get("/projects").json()["items"][0]
    assert "body" not in item
    assert item == {k: v for k, v in created.items() if k != "body"}


def test_a_full_page_of_the_largest_projects_stays_under_one_megabyte(
    lambda_handler: Any, clean_db: Engine
) -> None:
    with clean_db.begin() as conn:
        for index in range(LIST_MAX_ITEMS + 10):
            crud.create_project(conn, fields=_worst_project(index).model_dump())
    from scripts.generate_events import http_v2

    event = http_v2({"method": "GET", "path": "/projects", "query": {"limit": "100"}})
    response = lambda_handler(event, lambda_context())
    page = json.loads(response["body"])
    payload = len(to_json(response).encode())
    print(f"page of {len(page['items'])} of the largest projects: {payload} bytes of payload")

    assert response["statusCode"] == 200
    # limit=100 is served as the largest page, and the answer says so.
    assert (len(page["items"]), page["limit"], page["total"]) == (
        LIST_MAX_ITEMS,
        LIST_MAX_ITEMS,
        LIST_MAX_ITEMS + 10,
    )
    assert payload < ALB_LIMIT
    # The next page follows on from the served limit.
    event = http_v2(
        {"method": "GET", "path": "/projects", "query": {"offset": str(LIST_MAX_ITEMS)}}
    )
    assert len(json.loads(lambda_handler(event, lambda_context())["body"])["items"]) == 10


def test_the_largest_single_project_stays_under_lambdas_limit(
    lambda_handler: Any, clean_db: Engine
) -> None:
    with clean_db.begin() as conn:
        crud.create_project(conn, fields=_worst_project(0).model_dump())
    from scripts.generate_events import http_v2

    slug = _worst_project(0).slug
    response = lambda_handler(http_v2({"method": "GET", "path": f"/projects/{slug}"}), None)
    payload = len(to_json(response).encode())
    print(f"largest project: {payload} bytes")
    assert response["statusCode"] == 200
    assert payload < LAMBDA_LIMIT
    assert payload < ALB_LIMIT  # it even fits behind ALB


def _worst_message(index: int) -> schemas.ContactCreate:
    """The costliest message ContactCreate accepts, every field at its maximum length."""
    values: dict[str, str] = {}
    for field in ("name", "email", "message"):
        length = _max_length(schemas.ContactCreate, field)
        base = {"name": "x", "email": "a@example.com", "message": "x"}
        accepted = []
        for char in CANDIDATES:
            # An address needs its "@" and a domain: fill the local part only.
            value = (
                char * (length - len(f"{index}@example.com")) + f"{index}@example.com"
                if field == "email"
                else char * length
            )
            try:
                schemas.ContactCreate(**{**base, field: value})
            except ValidationError:
                continue
            accepted.append((_payload_bytes(char), value))
        assert accepted, f"no candidate accepted for {field}"
        values[field] = max(accepted)[1]
    return schemas.ContactCreate(**values)


def test_a_full_inbox_page_of_the_largest_messages_stays_under_one_megabyte(
    lambda_handler: Any, clean_db: Engine
) -> None:
    from app.api.admin.contact import INBOX_MAX_ITEMS
    from scripts.generate_events import http_v2
    from tests.conftest import ADMIN_TOKEN

    with clean_db.begin() as conn:
        for index in range(INBOX_MAX_ITEMS + 5):
            crud.create_contact_message(conn, fields=_worst_message(index).model_dump())
    event = http_v2(
        {
            "method": "GET",
            "path": "/contact",
            "query": {"limit": "100"},
            "headers": {"authorization": f"Bearer {ADMIN_TOKEN}"},
        }
    )
    response = lambda_handler(event, lambda_context())
    page = json.loads(response["body"])
    payload = len(to_json(response).encode())
    print(f"inbox page of {len(page['items'])} of the largest messages: {payload} bytes")

    assert response["statusCode"] == 200, response["body"][:300]
    assert (len(page["items"]), page["limit"], page["total"]) == (
        INBOX_MAX_ITEMS,
        INBOX_MAX_ITEMS,
        INBOX_MAX_ITEMS + 5,
    )
    assert payload < ALB_LIMIT
