"""The published snapshot: every published project in one object, labelled with its revision.

One object rather than one per project: a PUT is atomic and S3 reads are strongly consistent,
so a reader always sees one revision's list and projects together, and a conditional PUT
(`If-Match` on the ETag read just before) is the whole concurrency story. A writer replaces the
object only when its revision is newer than the one stored, so a slow writer never puts back
an older state; S3 rejects the PUT if another writer replaced the object in between, and the
writer reads again. Drafts are never in it: it is built from published rows only, so
unpublishing or deleting a project removes it from the next revision.

The revision is the database's (app/data/publication.py), read in the same transaction as
the content, at REPEATABLE READ on PostgreSQL: the content is exactly that revision's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from app.api import schemas
from app.data import publication
from app.fallback.store import ObjectStore, PreconditionFailedError, StoreError

KEY = "snapshot/published.json"
# Conditional PUTs lost in a row before giving up (each loss means a newer writer is active).
ATTEMPTS = 5

logger = logging.getLogger("app.snapshot")


@dataclass(frozen=True)
class Snapshot:
    """One revision of public content, queried as the database would be."""

    revision: int
    generated_at: dt.datetime
    projects: list[dict[str, Any]]

    def page(
        self, *, limit: int, offset: int, tag: str | None, featured: bool | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Summaries (no body) in list order and the total, as crud.list_projects gives them."""
        matching = [
            p
            for p in self.projects
            if (tag is None or tag in p["tags"]) and (featured is None or p["featured"] is featured)
        ]
        items = [{k: v for k, v in p.items() if k != "body"} for p in matching]
        return items[offset : offset + limit], len(matching)

    def project(self, slug: str) -> dict[str, Any] | None:
        return next((p for p in self.projects if p["slug"] == slug), None)

    def age_seconds(self, now: dt.datetime | None = None) -> int:
        return max(0, int(((now or dt.datetime.now(dt.UTC)) - self.generated_at).total_seconds()))


def document(revision: int, projects: list[dict[str, Any]], now: dt.datetime) -> bytes:
    """The stored form: the API's own JSON of each project, so both paths answer alike."""
    return json.dumps(
        {
            "revision": revision,
            "generated_at": now.isoformat(),
            "projects": [
                schemas.ProjectPublic.model_validate(p).model_dump(mode="json") for p in projects
            ],
        },
        separators=(",", ":"),
    ).encode()


def parse(body: bytes) -> Snapshot:
    data = json.loads(body)
    return Snapshot(
        int(data["revision"]), dt.datetime.fromisoformat(data["generated_at"]), data["projects"]
    )


def read_published(engine: Engine) -> tuple[int, list[dict[str, Any]]]:
    """The current revision and its published projects, from one state of the database."""
    with engine.connect() as plain:
        conn = plain
        if plain.dialect.name == "postgresql":
            conn = plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return publication.published(conn)


def write(store: ObjectStore, revision: int, body: bytes) -> int:
    """Store `body` (the snapshot of `revision`) unless the store already holds a revision at
    least as new; the revision the store holds afterwards."""
    for _ in range(ATTEMPTS):
        current = store.get(KEY)
        if current is not None:
            held = parse(current.body).revision
            if held >= revision:
                return held
        try:
            if current is None:
                store.put(KEY, body, if_none_match=True)
            else:
                store.put(KEY, body, if_match=current.etag)
            return revision
        except PreconditionFailedError:
            continue  # another writer got there first: look at what it wrote
    raise StoreError(f"snapshot: {ATTEMPTS} conditional writes lost in a row")


def publish(engine: Engine, store: ObjectStore, *, force: bool = False) -> int:
    """Bring the store's snapshot up to the database's revision; the revision it then holds.

    Called after each committed admin write that changes public content, at deploy, and by
    a read that finds the snapshot behind (a crash between commit and snapshot write).
    `force` (the deploy) checks the store even when the database says it is current.
    """
    with engine.connect() as conn:
        revision, held = publication.state(conn)
    if held >= revision and not force:
        return held  # nothing public changed since the last snapshot
    revision, projects = read_published(engine)
    held = write(store, revision, document(revision, projects, dt.datetime.now(dt.UTC)))
    with engine.begin() as conn:
        publication.snapshot_written(conn, revision)
    return held


class Reader:
    """Loads the snapshot, keeping the last one: an unchanged object costs a 304, no body."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._etag: str | None = None
        self._snapshot: Snapshot | None = None

    def load(self) -> Snapshot:
        """The stored snapshot; StoreError when there is none or the store cannot answer."""
        started = time.perf_counter()
        found = self.store.get(KEY, if_none_match=self._etag)
        if found is None:
            raise StoreError("no snapshot has been published yet")
        if not (found.etag == self._etag and not found.body and self._snapshot is not None):
            self._snapshot, self._etag = parse(found.body), found.etag
        logger.debug("snapshot loaded in %.1f ms", (time.perf_counter() - started) * 1000)
        assert self._snapshot is not None
        return self._snapshot
