"""Public reads when the database does not answer: the snapshot, answered as the database
would answer, with headers naming the source; HTTP caching (ETag, 304, Cache-Control).

The database is the suite's real PostgreSQL behind tests/resume_proxy.py, which accepts
connections and forwards none until it "resumes" (as a paused Aurora does); the store is the
real local S3 server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.client import LambdaClient
from tests.resume_proxy import ResumingProxy, resuming_proxy
from tests.s3_server import AWAKE

PROJECTS = [
    {"slug": "alpha", "title": "Alpha", "tags": ["python", "aws"], "featured": True},
    {"slug": "beta", "title": "Beta", "tags": ["rust"], "position": 1},
    {"slug": "gamma", "title": "Gamma", "tags": ["python"], "featured": True, "position": 0},
    {"slug": "delta", "title": "Delta", "tags": ["aws"], "body": "Δ body 🐍"},
    {"slug": "epsilon", "title": "Epsilon", "tags": []},
]
DRAFT = {"slug": "hidden", "title": "Hidden", "tags": ["python"], "published": False}
QUERIES: list[dict[str, str]] = [
    {},
    {"tag": "python"},
    {"tag": "aws", "featured": "false"},
    {"featured": "true"},
    {"limit": "2"},
    {"limit": "2", "offset": "1"},
    {"limit": "2", "offset": "4"},
    {"offset": "99"},
    {"tag": "nothing"},
    {"status": "published", "tag": "rust"},
]


@pytest.fixture
def paused(database_url: str) -> Iterator[tuple[str, ResumingProxy]]:
    """The database behind a proxy that stays "paused" for the whole test."""
    url = make_url(database_url)
    with resuming_proxy(int(url.port or 5432), resume_seconds=120) as proxy:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy


@pytest.fixture
def seeded(make_client: Any, bucket: Any, clean_db: Any) -> LambdaClient:
    """A client on the awake database with projects (and a draft) written, snapshot included."""
    client: LambdaClient = make_client(**bucket.settings, **AWAKE)
    for i, project in enumerate([*PROJECTS, DRAFT]):
        fields = {"published": True, "summary": f"#{i}", **project}
        answer = client.post("/projects", fields, admin=True)
        assert (answer.status, answer.headers["x-snapshot"]) == (201, "current"), answer.text
    return client


def test_the_snapshot_answers_as_the_database_does(
    seeded: LambdaClient, make_client: Any, bucket: Any, paused: tuple[str, ResumingProxy]
) -> None:
    url, proxy = paused
    away: LambdaClient = make_client(database_url=url, **bucket.settings)
    for query in QUERIES:
        awake_answer = seeded.get("/projects", query=query)
        away_answer = away.get("/projects", query=query)
        assert awake_answer.headers["x-content-source"] == "database"
        assert away_answer.headers["x-content-source"] == "snapshot"
        assert (away_answer.status, away_answer.text) == (200, awake_answer.text), query
        assert away_answer.headers["etag"] == awake_answer.headers["etag"]
    for slug in [p["slug"] for p in PROJECTS]:
        awake_answer = seeded.get(f"/projects/{slug}")
        away_answer = away.get(f"/projects/{slug}")
        assert (away_answer.status, away_answer.text) == (200, awake_answer.text), slug
    for missing in ("hidden", "nope"):  # a draft is as absent as a project that never was
        assert away.get(f"/projects/{missing}").text == seeded.get(f"/projects/{missing}").text
        assert away.get(f"/projects/{missing}").status == 404
    # Answered while the database was still paused; the attempts reached it (they wake it).
    assert proxy.resumed_at is not None and proxy.resumed_at > time.monotonic()
    assert proxy.accepted >= 1


def test_snapshot_answers_say_their_revision_and_age(
    seeded: LambdaClient, make_client: Any, bucket: Any, paused: tuple[str, ResumingProxy]
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    answer = away.get("/projects")
    assert answer.headers["x-content-source"] == "snapshot"
    assert int(answer.headers["x-snapshot-revision"]) == len(PROJECTS) + 1  # from 1, per publish
    assert 0 <= int(answer.headers["x-snapshot-age"]) < 120


def test_admin_reads_wait_for_the_database(
    seeded: LambdaClient, make_client: Any, bucket: Any, database_url: str
) -> None:
    url = make_url(database_url)
    with resuming_proxy(int(url.port or 5432), resume_seconds=1) as proxy:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        away: LambdaClient = make_client(database_url=through, **bucket.settings)
        everything = away.get("/projects", query={"status": "all"}, admin=True)
        assert everything.status == 200
        assert "x-content-source" not in everything.headers
        assert "hidden" in [item["slug"] for item in everything.json()["items"]]
        assert proxy.resumed_at is not None and proxy.resumed_at <= time.monotonic()


def test_no_database_and_no_snapshot_is_a_503(
    make_client: Any, bucket: Any, paused: tuple[str, ResumingProxy], clean_db: Any
) -> None:
    away: LambdaClient = make_client(database_url=paused[0], **bucket.settings)
    answer = away.get("/projects")
    assert (answer.status, answer.headers["cache-control"]) == (503, "no-store")
    assert answer.headers["retry-after"] == "1"


# -- HTTP caching ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["database", "snapshot"])
def test_etag_and_if_none_match_give_304(
    seeded: LambdaClient,
    make_client: Any,
    bucket: Any,
    paused: tuple[str, ResumingProxy],
    source: str,
) -> None:
    client = (
        seeded if source == "database" else make_client(database_url=paused[0], **bucket.settings)
    )
    for path in ("/projects", "/projects/alpha"):
        first = client.get(path)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == (
            "public, max-age=60, stale-while-revalidate=300, stale-if-error=86400"
        )
        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = client.get(path, headers={"if-none-match": sent})
            assert (again.status, again.text) == (304, ""), sent
            assert again.headers["etag"] == etag
            assert again.headers["cache-control"] == first.headers["cache-control"]
        assert client.get(path, headers={"if-none-match": '"other"'}).status == 200


def test_head_carries_the_get_s_etag(seeded: LambdaClient) -> None:
    for path in ("/projects", "/projects/alpha"):
        get, head = seeded.get(path), seeded.request("HEAD", path)
        assert (head.status, head.text) == (200, "")
        assert head.headers["etag"] == get.headers["etag"]
        assert head.headers["content-length"] == get.headers["content-length"]


def test_a_change_changes_the_etag(seeded: LambdaClient) -> None:
    before = seeded.get("/projects/alpha").headers["etag"]
    assert seeded.patch("/projects/alpha", {"title": "Alpha 2"}, admin=True).status == 200
    changed = seeded.get("/projects/alpha", headers={"if-none-match": before})
    assert changed.status == 200 and changed.headers["etag"] != before


def test_admin_answers_and_errors_are_not_cached(seeded: LambdaClient) -> None:
    for answer in (
        seeded.get("/projects/hidden", admin=True),
        seeded.get("/projects", query={"status": "all"}, admin=True),
        seeded.get("/projects/nope"),
        seeded.get("/projects", query={"limit": "0"}),
    ):
        assert answer.headers["cache-control"] == "no-store"
        assert "etag" not in answer.headers
