"""Every sample event in events/ through `handler.handler`, against PostgreSQL.

Adding an event file (and its line in events/expected-status.json) adds a test here.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import EVENTS, body_of, expected_statuses, lambda_context, load_event

EXPECTED = expected_statuses()


def test_every_event_file_has_an_expected_status() -> None:
    files = {str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json")}
    files.discard("expected-status.json")
    assert files == set(EXPECTED)


def test_the_malformed_corpus_is_large_enough() -> None:
    assert sum(name.startswith("malformed/") for name in EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gets_its_expected_status(name: str, lambda_handler: Any, seeded_db: Engine) -> None:
    response = lambda_handler(load_event(name), lambda_context())

    assert response["statusCode"] == EXPECTED[name], response.get("body", "")[:500]
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    if name.endswith("get-docs.json"):
        assert headers["content-type"].startswith("text/html")
    elif response["statusCode"] != 204:
        assert headers["content-type"] == "application/json"
        body = body_of(response)
        if response["statusCode"] >= 400:
            assert set(body) == {"detail"}, body
