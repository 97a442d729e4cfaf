"""Two requests at once on every write path, on PostgreSQL (issue 10, the class behind items
2 and 4: nothing ran two requests at once).

Each request runs in its own LambdaAdapter (its own engine and connection), as two Lambda
execution environments would. To make the race certain rather than likely, a lock held by
another connection stops the first write until both requests are inside the database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.client import LambdaClient, LambdaResponse
from tests.reliability.conftest import FaultDB

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello"}
PROJECT = {"slug": "same", "title": "Same", "tags": ["a", "b"], "published": True}
WAIT = 10.0  # seconds: far above normal, well below a hang


def _clients(make_client: Any, faults: FaultDB, n: int = 2) -> list[LambdaClient]:
    return [make_client(database_url=faults.url) for _ in range(n)]


def _in_threads(calls: list[Callable[[], LambdaResponse]]) -> list[Any]:
    """Run each call in its own thread (with its own event loop, as Mangum needs)."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            results[i] = calls[i]()
        except Exception as error:  # reported by the assertions below
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return [threads, results]


def _race(
    faults: FaultDB, table: str, calls: list[Callable[[], LambdaResponse]]
) -> list[LambdaResponse]:
    """Start `calls` while `table` is locked; release it once all of them wait in the database."""
    with faults.table_locked(table):
        threads, results = _in_threads(calls)
        deadline = time.monotonic() + WAIT
        while sum(w == "Lock" for _, _, w in faults.app_backends()) < len(calls):
            assert time.monotonic() < deadline, faults.app_backends()
            time.sleep(0.02)
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert all(isinstance(r, LambdaResponse) for r in results), results
    return results


def test_same_idempotency_key_at_once_writes_once_and_replays(
    make_client: Any, faults: FaultDB
) -> None:
    a, b = _clients(make_client, faults)
    key = {"idempotency-key": "0f5c3a6e-2b8d-4e1f-9a7c-5d4e3f2a1b0c"}
    results = _race(
        faults,
        "contact_messages",
        [lambda c=c: c.post("/contact", MESSAGE, headers=key) for c in (a, b)],
    )
    assert [r.status for r in results] == [202, 202], [r.text for r in results]
    assert results[0].json() == results[1].json()
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 1
    assert faults.scalar("SELECT count(*) FROM idempotency_keys") == 1


def test_same_key_other_body_at_once_is_one_write_and_one_422(
    make_client: Any, faults: FaultDB
) -> None:
    a, b = _clients(make_client, faults)
    key = {"idempotency-key": "7e6d5c4b-3a29-4180-b7c6-d5e4f3a2b1c0"}
    results = _race(
        faults,
        "contact_messages",
        [
            lambda: a.post("/contact", MESSAGE, headers=key),
            lambda: b.post("/contact", {**MESSAGE, "message": "Other"}, headers=key),
        ],
    )
    assert sorted(r.status for r in results) == [202, 422], [r.text for r in results]
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 1


def test_same_project_key_at_once_creates_once(make_client: Any, faults: FaultDB) -> None:
    a, b = _clients(make_client, faults)
    key = {"idempotency-key": "c0ffee00-1234-4abc-8def-0123456789ab"}
    results = _race(
        faults,
        "project_tags",
        [lambda c=c: c.post("/projects", PROJECT, admin=True, headers=key) for c in (a, b)],
    )
    assert [r.status for r in results] == [201, 201], [r.text for r in results]
    assert results[0].json() == results[1].json()
    assert faults.scalar("SELECT count(*) FROM projects") == 1
    assert faults.scalar("SELECT count(*) FROM project_tags") == 2


def test_same_contact_without_a_key_is_two_whole_messages(
    make_client: Any, faults: FaultDB
) -> None:
    a, b = _clients(make_client, faults)
    results = _race(
        faults, "contact_messages", [lambda c=c: c.post("/contact", MESSAGE) for c in (a, b)]
    )
    assert [r.status for r in results] == [202, 202]
    assert results[0].json()["id"] != results[1].json()["id"]
    assert faults.scalar("SELECT count(*) FROM contact_messages") == 2


def test_same_slug_at_once_is_one_project_and_one_409(make_client: Any, faults: FaultDB) -> None:
    a, b = _clients(make_client, faults)
    other = {**PROJECT, "title": "Other", "tags": ["c"]}
    results = _race(
        faults,
        "projects",
        [
            lambda: a.post("/projects", PROJECT, admin=True),
            lambda: b.post("/projects", other, admin=True),
        ],
    )
    assert sorted(r.status for r in results) == [201, 409], [r.text for r in results]
    conflict = next(r for r in results if r.status == 409)
    assert conflict.json() == {"detail": "project 'same' already exists"}
    winner = next(r for r in results if r.status == 201).json()
    assert faults.scalar("SELECT count(*) FROM projects") == 1
    tags = faults.scalar("SELECT string_agg(tag, ',' ORDER BY position) FROM project_tags")
    assert tags == ",".join(winner["tags"])


def test_renames_onto_the_same_slug_at_once_are_one_200_and_one_409(
    make_client: Any, faults: FaultDB
) -> None:
    a, b = _clients(make_client, faults)
    for slug in ("one", "two"):
        assert a.post("/projects", {**PROJECT, "slug": slug}, admin=True).status == 201
    results = _race(
        faults,
        "projects",
        [
            lambda: a.patch("/projects/one", {"slug": "taken"}, admin=True),
            lambda: b.patch("/projects/two", {"slug": "taken"}, admin=True),
        ],
    )
    assert sorted(r.status for r in results) == [200, 409], [r.text for r in results]
    assert faults.scalar("SELECT count(*) FROM projects WHERE slug = 'taken'") == 1
    assert faults.scalar("SELECT count(*) FROM projects") == 2


def test_two_patches_of_one_project_at_once_both_apply(make_client: Any, faults: FaultDB) -> None:
    a, b = _clients(make_client, faults)
    assert a.post("/projects", PROJECT, admin=True).status == 201
    results = _race(
        faults,
        "projects",
        [
            lambda: a.patch("/projects/same", {"title": "A"}, admin=True),
            lambda: b.patch("/projects/same", {"summary": "B"}, admin=True),
        ],
    )
    assert [r.status for r in results] == [200, 200], [r.text for r in results]
    final = a.get("/projects/same").json()
    assert (final["title"], final["summary"]) == ("A", "B")


def test_the_same_delete_at_once_is_one_204_and_one_404(make_client: Any, faults: FaultDB) -> None:
    a, b = _clients(make_client, faults)
    assert a.post("/projects", PROJECT, admin=True).status == 201
    results = _race(
        faults, "project_tags", [lambda c=c: c.delete("/projects/same", admin=True) for c in (a, b)]
    )
    assert sorted(r.status for r in results) == [204, 404], [r.text for r in results]
    assert faults.scalar("SELECT count(*) FROM project_tags") == 0
