"""Drafts and preview, publication dates, pinning and cover images, through handler.handler."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.client import LambdaClient

DRAFT = {"slug": "draft", "title": "Not yet", "body": "secret body"}
LIVE = {"slug": "live", "title": "Out there", "published": True}
WRONG_TOKEN = {"authorization": "Bearer not-the-token"}


def _create(client: LambdaClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/projects", fields, admin=True)
    assert response.status == 201, response.text
    return response.json()


def _slugs(response: Any) -> list[str]:
    return [item["slug"] for item in response.json()["items"]]


# -- drafts are the admin's alone ----------------------------------------------------------


def test_a_draft_is_hidden_from_the_public_and_shown_to_the_admin(client: LambdaClient) -> None:
    draft = _create(client, **DRAFT)

    assert client.get("/projects/draft").status == 404
    preview = client.get("/projects/draft", admin=True)
    assert preview.status == 200
    assert preview.json() == draft
    assert preview.headers["cache-control"] == "no-store"
    wrong = client.get("/projects/draft", headers=WRONG_TOKEN)
    assert (wrong.status, wrong.headers["www-authenticate"]) == (401, "Bearer")


@pytest.mark.parametrize("status", ["draft", "all"])
def test_listing_drafts_needs_the_admin_token(client: LambdaClient, status: str) -> None:
    _create(client, **DRAFT)
    response = client.get("/projects", query={"status": status})
    assert (response.status, response.json()) == (401, {"detail": "missing bearer token"})
    assert client.get("/projects", query={"status": status}, headers=WRONG_TOKEN).status == 401


def test_the_admin_lists_drafts_published_or_both_without_caching(client: LambdaClient) -> None:
    _create(client, **DRAFT)
    _create(client, **LIVE)

    drafts = client.get("/projects", query={"status": "draft"}, admin=True)
    everything = client.get("/projects", query={"status": "all"}, admin=True)
    assert (_slugs(drafts), drafts.json()["total"]) == (["draft"], 1)
    assert sorted(_slugs(everything)) == ["draft", "live"]
    for response in (drafts, everything):
        assert response.headers["cache-control"] == "no-store"
    assert _slugs(client.get("/projects", query={"status": "published"}, admin=True)) == ["live"]


def test_the_public_list_is_unchanged(client: LambdaClient) -> None:
    _create(client, **DRAFT)
    _create(client, **LIVE)
    response = client.get("/projects")
    assert (response.status, _slugs(response), response.json()["total"]) == (200, ["live"], 1)
    # Cacheable (app/caching.py), never no-store like the admin's lists.
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert client.get("/projects", query={"status": "published"}).status == 200
    assert client.get("/projects", query={"status": "secret"}).status == 422


# -- publication date -----------------------------------------------------------------------


def _published_at(project: dict[str, Any]) -> dt.datetime | None:
    value = project["published_at"]
    return dt.datetime.fromisoformat(value) if value else None


def test_published_at_is_set_on_first_publish_and_kept(client: LambdaClient) -> None:
    draft = _create(client, **DRAFT)
    assert draft["published_at"] is None

    first = client.patch("/projects/draft", {"published": True}, admin=True).json()
    stamped = _published_at(first)
    assert stamped is not None
    assert abs(dt.datetime.now(dt.UTC) - stamped) < dt.timedelta(minutes=1)
    # Unpublishing and publishing again keep the first date.
    assert (
        client.patch("/projects/draft", {"published": False}, admin=True).json()["published_at"]
        == first["published_at"]
    )
    again = client.patch("/projects/draft", {"published": True}, admin=True).json()
    assert again["published_at"] == first["published_at"]


def test_the_admin_sets_published_at(client: LambdaClient) -> None:
    when = "2019-05-01T12:00:00Z"
    project = _create(client, **LIVE, published_at=when)
    assert _published_at(project) == dt.datetime(2019, 5, 1, 12, tzinfo=dt.UTC)
    later = client.patch(
        "/projects/live", {"published_at": "2020-01-01T00:00:00+02:00"}, admin=True
    )
    assert _published_at(later.json()) == dt.datetime(2019, 12, 31, 22, tzinfo=dt.UTC)
    # A date without a zone is ambiguous: refused, not guessed.
    naive = client.patch("/projects/live", {"published_at": "2020-01-01T00:00:00"}, admin=True)
    assert naive.status == 422


def test_public_order_is_position_then_newest_publication(client: LambdaClient) -> None:
    _create(client, slug="old", title="Old", published=True, published_at="2020-01-01T00:00:00Z")
    _create(client, slug="new", title="New", published=True, published_at="2024-01-01T00:00:00Z")
    _create(client, slug="mid", title="Mid", published=True, published_at="2022-01-01T00:00:00Z")
    assert _slugs(client.get("/projects")) == ["new", "mid", "old"]

    client.patch("/projects/old", {"position": 1}, admin=True)
    client.patch("/projects/mid", {"position": 0}, admin=True)
    assert _slugs(client.get("/projects")) == ["mid", "old", "new"]
    # Unpinned again: back to the date order.
    client.patch("/projects/mid", {"position": None}, admin=True)
    assert _slugs(client.get("/projects")) == ["old", "new", "mid"]


# -- cover images ---------------------------------------------------------------------------

IMAGE = {"cover_image_url": "https://img.example.com/cover.png", "cover_image_alt": "A cover"}


def test_a_cover_image_needs_https_and_alt_text(client: LambdaClient) -> None:
    project = _create(client, **LIVE, **IMAGE)
    assert {k: project[k] for k in IMAGE} == IMAGE
    assert client.get("/projects").json()["items"][0]["cover_image_url"] == IMAGE["cover_image_url"]

    for bad in (
        {"cover_image_url": IMAGE["cover_image_url"]},  # no alt
        {**IMAGE, "cover_image_alt": "   "},  # blank alt
        {**IMAGE, "cover_image_url": "http://img.example.com/cover.png"},  # not https
        {**IMAGE, "cover_image_url": "https://img.example.com/caf\u00e9.png"},  # not RFC 3986
        {**IMAGE, "cover_image_url": "javascript:alert(1)"},
    ):
        response = client.post("/projects", {"slug": "other", "title": "Other", **bad}, admin=True)
        assert response.status == 422, bad
    assert client.get("/projects/other", admin=True).status == 404


def test_patching_keeps_an_image_and_its_alt_together(client: LambdaClient) -> None:
    _create(client, **DRAFT)
    # An image without alt text is refused, and the whole PATCH with it.
    response = client.patch(
        "/projects/draft",
        {"title": "Changed", "cover_image_url": IMAGE["cover_image_url"]},
        admin=True,
    )
    assert response.status == 422
    unchanged = client.get("/projects/draft", admin=True).json()
    assert (unchanged["title"], unchanged["cover_image_url"]) == ("Not yet", None)

    assert client.patch("/projects/draft", IMAGE, admin=True).status == 200
    new_url = {"cover_image_url": "https://img.example.com/other.png"}
    assert client.patch("/projects/draft", new_url, admin=True).status == 200  # alt kept
    assert client.patch("/projects/draft", {"cover_image_alt": None}, admin=True).status == 422
    removed = client.patch("/projects/draft", {"cover_image_url": None}, admin=True)
    assert (removed.status, removed.json()["cover_image_url"]) == (200, None)


# -- only Bearer is an admin attempt ----------------------------------------------------------

# Credentials a site sends that are not this API's: HTTP Basic in front of a staging site,
# a Digest reply, a bare token, an unknown scheme. None of them asks for the admin's view.
NOT_BEARER = ["Basic c3RhZ2luZzpzZWNyZXQ=", 'Digest username="x"', "s3cret", "Token abc"]


@pytest.mark.parametrize("authorization", NOT_BEARER)
def test_other_authorization_schemes_are_ignored_on_public_reads(
    client: LambdaClient, authorization: str
) -> None:
    _create(client, **LIVE)
    _create(client, **DRAFT)
    headers = {"authorization": authorization}
    live = client.get("/projects/live", headers=headers)
    assert live.status == 200, live.text
    assert live.json()["slug"] == "live"
    # Not the admin: a draft stays hidden, as for anyone else.
    assert client.get("/projects/draft", headers=headers).status == 404
    assert client.get("/projects", headers=headers).status == 200


@pytest.mark.parametrize("authorization", NOT_BEARER[:2])
def test_other_schemes_are_ignored_when_no_admin_digest_is_configured(
    make_client: Any, clean_db: Any, authorization: str
) -> None:
    client = make_client(admin_token_sha256=None)
    response = client.get("/projects/missing", headers={"authorization": authorization})
    assert (response.status, response.json()) == (404, {"detail": "project 'missing' not found"})
    # A Bearer token is an admin attempt: without a digest, admin access is off (503).
    bearer = client.get("/projects/missing", headers={"authorization": "Bearer x"})
    assert bearer.status == 503
