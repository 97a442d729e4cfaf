"""HEAD on every GET route: the GET's status and headers, no body (uptime monitors probe so)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.client import LambdaClient

GET_PATHS = [
    "/health",
    "/health/ready",
    "/projects",
    "/projects/hello-world",
    "/openapi.json",
    "/docs",
]


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_like_get_without_a_body(
    path: str, client: LambdaClient, seeded_db: Engine
) -> None:
    get = client.get(path)
    head = client.request("HEAD", path)
    assert get.status == 200, get.text
    assert (head.status, head.text) == (200, "")
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"] != "0"


def test_head_of_an_unknown_project_is_404_without_a_body(client: LambdaClient) -> None:
    head = client.request("HEAD", "/projects/nope")
    assert (head.status, head.text) == (404, "")


def test_head_of_an_admin_get_still_needs_the_token(client: LambdaClient) -> None:
    assert client.request("HEAD", "/contact").status == 401
    assert client.request("HEAD", "/contact", admin=True).status == 200


@pytest.mark.parametrize(
    ("path", "allow"), [("/health", "GET, HEAD"), ("/contact", "GET, HEAD, POST")]
)
def test_wrong_method_lists_head_beside_get(path: str, allow: str, client: LambdaClient) -> None:
    response = client.request("PUT", path, json_body={})
    assert response.status == 405
    assert response.headers["allow"] == allow
