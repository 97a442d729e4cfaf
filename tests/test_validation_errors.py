"""422 answers: what was wrong and where, never the input itself (issue 10, item 1)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.client import LambdaClient

MARKER = "marker-8c1f-never-logged"
CONTACT = {"name": "Ada", "email": "ada@example.com", "message": MARKER}
PROJECT = {"slug": "s", "title": "T", "body": MARKER}


def _raw(body: dict[str, Any], **replace: str) -> str:
    # json.dumps escapes a lone surrogate as "\ud800": valid JSON that no UTF-8 text can hold.
    return json.dumps(body)[:-1] + "".join(f', "{k}": "{v}"' for k, v in replace.items()) + "}"


@pytest.mark.parametrize(
    ("path", "raw", "admin"),
    [
        ("/contact", _raw({"email": "ada@example.com", "message": MARKER}, name="\\ud800"), False),
        ("/contact", _raw({"name": "Ada", "email": "ada@example.com"}, message="\\udfff"), False),
        ("/projects", _raw({"slug": "s", "body": MARKER}, title="\\ud83d"), True),
        ("/contact", _raw(CONTACT, **{"\\ud800": "x"}), False),
    ],
)
def test_lone_surrogates_are_a_422_not_a_500(
    client: LambdaClient, caplog: pytest.LogCaptureFixture, path: str, raw: str, admin: bool
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.request(
            "POST",
            path,
            raw_body=raw,
            admin=admin,
            headers={"content-type": "application/json"},
        )
    assert response.status == 422, response.text
    assert MARKER not in caplog.text
    assert "ud800" not in caplog.text.lower()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("path", "body", "admin"),
    [
        ("/contact", {**CONTACT, "email": f"{MARKER}-not-an-email"}, False),
        ("/contact", {**CONTACT, "name": " ", "message": "x" * 5001 + MARKER}, False),
        ("/projects", {**PROJECT, "url": f"ftp://{MARKER}"}, True),
        ("/projects", {**PROJECT, "tags": [MARKER.upper()]}, True),
        ("/projects", {**PROJECT, "featured": MARKER}, True),
    ],
)
def test_422_bodies_never_echo_the_input(
    client: LambdaClient, path: str, body: dict[str, Any], admin: bool
) -> None:
    response = client.post(path, body, admin=admin)
    assert response.status == 422
    assert MARKER not in response.text
    assert MARKER.upper() not in response.text
    for issue in response.json()["detail"]:
        assert set(issue) == {"type", "loc", "msg"}, issue


def test_an_unknown_field_is_named_but_made_safe(client: LambdaClient) -> None:
    response = client.post("/contact", {**CONTACT, "x" * 500: 1})
    assert response.status == 422
    [issue] = response.json()["detail"]
    assert issue["type"] == "extra_forbidden"
    assert issue["loc"][0] == "body"
    assert len(issue["loc"][1]) <= 100
