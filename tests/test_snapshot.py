"""The published snapshot (app/fallback/snapshot.py) in the real local S3 server: written after
each committed admin write, never with drafts, monotonic under concurrent and slow writers,
repaired after a crash between the commit and its write, and written at deploy."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.data import crud, publication
from app.fallback import snapshot
from tests.client import LambdaClient
from tests.conftest import lambda_context
from tests.s3_server import AWAKE

LIVE = {"slug": "live", "title": "Out there", "published": True, "body": "live body"}
DRAFT = {"slug": "draft", "title": "Not yet", "body": "SECRET-DRAFT-BODY"}
# An endpoint nothing listens on: the store fails as an unreachable S3 would.
DEAD_ENDPOINT = "http://127.0.0.1:9"


def _stored(bucket: Any) -> snapshot.Snapshot | None:
    found = bucket.store.get(snapshot.KEY)
    return None if found is None else snapshot.parse(found.body)


def _db_state(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return publication.state(conn)


def _db_published(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(p, created_at=p["created_at"], updated_at=p["updated_at"])
            for p in crud.published_projects(conn)
        ]


def _assert_snapshot_is_the_database(bucket: Any, engine: Engine) -> snapshot.Snapshot:
    stored = _stored(bucket)
    assert stored is not None
    revision, held = _db_state(engine)
    expected = snapshot.parse(
        snapshot.document(revision, _db_published(engine), dt.datetime.now(dt.UTC))
    )
    assert (stored.revision, held) == (revision, revision)
    assert stored.projects == expected.projects
    return stored


def test_admin_writes_publish_and_drafts_never_appear(
    make_client: Any, bucket: Any, clean_db: Engine
) -> None:
    client: LambdaClient = make_client(**bucket.settings, **AWAKE)

    draft = client.post("/projects", DRAFT, admin=True)
    assert draft.status == 201
    # The store had no snapshot yet (no deploy ran here): the first write makes one, with
    # no project in it.
    assert _assert_snapshot_is_the_database(bucket, clean_db).projects == []
    assert b"SECRET-DRAFT-BODY" not in bucket.store.get(snapshot.KEY).body

    live = client.post("/projects", LIVE, admin=True)
    assert (live.status, live.headers["x-snapshot"]) == (201, "current")
    assert [p["slug"] for p in _assert_snapshot_is_the_database(bucket, clean_db).projects] == [
        "live"
    ]

    steps = [
        ("PATCH", "/projects/draft", {"title": "Still a draft"}, ["live"]),
        ("PATCH", "/projects/draft", {"published": True}, ["draft", "live"]),
        ("PATCH", "/projects/draft", {"published": False}, ["live"]),
        ("PATCH", "/projects/live", {"title": "Renamed"}, ["live"]),
        ("DELETE", "/projects/live", None, []),
    ]
    for method, path, body, slugs in steps:
        answer = client.request(method, path, json_body=body, admin=True)
        assert answer.status in (200, 204), answer.text
        stored = _assert_snapshot_is_the_database(bucket, clean_db)
        assert sorted(p["slug"] for p in stored.projects) == slugs, (method, path, body)
        raw = bucket.store.get(snapshot.KEY).body
        if "draft" not in slugs:
            assert b"SECRET-DRAFT-BODY" not in raw and b"Still a draft" not in raw


# Every shape of public read: the publication state rides in the page's statement, in the
# count of a page past the end, in the project's, and is read alone for a 404.
@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/projects", {}, 200),
        ("/projects", {"offset": "99"}, 200),
        ("/projects", {"tag": "nothing"}, 200),
        ("/projects/second", {}, 200),
        ("/projects/no-such-project", {}, 404),
    ],
)
def test_a_crash_between_commit_and_snapshot_write_is_repaired_by_the_next_read(
    make_client: Any,
    bucket: Any,
    clean_db: Engine,
    path: str,
    query: dict[str, str],
    status: int,
) -> None:
    healthy: LambdaClient = make_client(**bucket.settings, **AWAKE)
    assert healthy.post("/projects", LIVE, admin=True).status == 201
    before = _stored(bucket)
    assert before is not None

    # The write commits; the store cannot be reached, as if the process died right after
    # the commit: the answer is still a 201 and says the snapshot is stale.
    cut_off: LambdaClient = make_client(**{**bucket.settings, "aws_endpoint_url_s3": DEAD_ENDPOINT})
    created = cut_off.post("/projects", {**LIVE, "slug": "second"}, admin=True)
    assert (created.status, created.headers["x-snapshot"]) == (201, "stale")
    revision, held = _db_state(clean_db)
    assert revision > held
    assert _stored(bucket) == before  # behind the database

    # The next public read (the database answers) notices and repairs.
    read = healthy.get(path, query=query)
    assert read.status == status, read.text
    if status == 200:
        assert read.headers["x-content-source"] == "database"
    stored = _assert_snapshot_is_the_database(bucket, clean_db)
    assert sorted(p["slug"] for p in stored.projects) == ["live", "second"]


def test_a_crash_is_repaired_by_the_next_write_too(
    make_client: Any, bucket: Any, clean_db: Engine
) -> None:
    cut_off: LambdaClient = make_client(**{**bucket.settings, "aws_endpoint_url_s3": DEAD_ENDPOINT})
    assert cut_off.post("/projects", LIVE, admin=True).headers["x-snapshot"] == "stale"
    healthy: LambdaClient = make_client(**bucket.settings, **AWAKE)
    # A write that changes nothing public still brings the snapshot up to date.
    assert healthy.post("/projects", DRAFT, admin=True).headers["x-snapshot"] == "current"
    assert [p["slug"] for p in _assert_snapshot_is_the_database(bucket, clean_db).projects] == [
        "live"
    ]


def test_concurrent_admin_writes_leave_the_snapshot_at_the_later_revision(
    make_client: Any, bucket: Any, clean_db: Engine
) -> None:
    writers = [make_client(**bucket.settings, **AWAKE) for _ in range(6)]
    for i, writer in enumerate(writers):
        assert writer.post("/projects", {**LIVE, "slug": f"p{i}"}, admin=True).status == 201
    barrier = threading.Barrier(len(writers))
    answers: list[str] = []

    def write(i: int, writer: LambdaClient) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs the app on this thread's
        barrier.wait()
        for round_ in range(3):
            answer = writer.patch(f"/projects/p{i}", {"title": f"round {round_}"}, admin=True)
            answers.append(f"{answer.status} {answer.headers.get('x-snapshot')}")

    threads = [threading.Thread(target=write, args=(i, w)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == ["200 current"] * 18
    stored = _assert_snapshot_is_the_database(bucket, clean_db)
    assert {p["title"] for p in stored.projects} == {"round 2"}


def test_a_slow_writer_never_puts_back_an_older_state(bucket: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    newer = snapshot.document(7, [], now)
    assert snapshot.write(bucket.store, 7, newer) == 7
    older = snapshot.document(5, [], now)
    assert snapshot.write(bucket.store, 5, older) == 7  # refused: the store keeps 7
    assert _stored(bucket) is not None and _stored(bucket).revision == 7

    # Many writers at once, in any order: the highest revision is what remains.
    revisions = list(range(8, 20))
    random.shuffle(revisions)
    barrier = threading.Barrier(len(revisions))

    def write(revision: int) -> None:
        barrier.wait()
        snapshot.write(bucket.store, revision, snapshot.document(revision, [], now))

    threads = [threading.Thread(target=write, args=(r,)) for r in revisions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _stored(bucket).revision == 19


def test_deploy_writes_the_snapshot(make_client: Any, bucket: Any, clean_db: Engine) -> None:
    adapter = make_client(**bucket.settings, **AWAKE).adapter
    result = adapter.migrate({}, lambda_context())
    assert result["snapshot_revision"] == 1
    stored = _assert_snapshot_is_the_database(bucket, clean_db)
    assert stored.projects == []
