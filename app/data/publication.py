"""The revision of public content: bumped by admin writes, read with the content it labels.

Plain values in, plain values out; the snapshot that uses them is app/fallback/snapshot.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.data.tables import publication

_p = publication.c


def bump(conn: Connection) -> int:
    """Count one change to public content in the caller's transaction; the new revision.

    The UPDATE locks the row until the transaction ends, so concurrent admin writes commit
    in revision order: a snapshot read at revision r holds every change up to r.
    """
    return int(
        conn.execute(
            update(publication)
            .where(_p.id == 1)
            .values(revision=_p.revision + 1)
            .returning(_p.revision)
        ).scalar_one()
    )


def state(conn: Connection) -> tuple[int, int]:
    """(revision, snapshot_revision): the snapshot is behind when the first is larger."""
    row = conn.execute(select(_p.revision, _p.snapshot_revision).where(_p.id == 1)).one()
    return int(row[0]), int(row[1])


def snapshot_written(conn: Connection, revision: int) -> None:
    """Record that the store holds the snapshot of `revision` (never moves backwards)."""
    conn.execute(
        update(publication)
        .where(_p.id == 1, _p.snapshot_revision < revision)
        .values(snapshot_revision=revision)
    )


def published(conn: Connection) -> tuple[int, list[dict[str, Any]]]:
    """The revision and every published project (body and tags included) in list order.

    Call it in a transaction that sees one state of the database (REPEATABLE READ on
    PostgreSQL; app/fallback/snapshot.py opens one), so the content is exactly that revision's.
    """
    from app.data import crud

    revision, _ = state(conn)
    return revision, crud.published_projects(conn)
