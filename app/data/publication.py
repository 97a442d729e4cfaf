"""The revision of public content: bumped by admin writes, read with the content it labels.

Plain values in, plain values out; the snapshot that uses them is app/fallback/snapshot.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import Label

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


class Carrier:
    """`state()` read in the same statement as a public read's content: no round trip of its own.

    A public read with the fallback on must know whether the snapshot is behind (a crash
    between an admin commit and its snapshot write); a read of its own would double the
    round trips of every warm read. The read adds `columns` (uncorrelated scalar subqueries)
    to its statement and hands the first row to `take`; when it has no row to carry them (a
    404), `state` reads them on their own.
    """

    def __init__(self) -> None:
        self.columns: list[Label[Any]] = [
            select(_p.revision).where(_p.id == 1).scalar_subquery().label("publication_revision"),
            select(_p.snapshot_revision)
            .where(_p.id == 1)
            .scalar_subquery()
            .label("publication_snapshot_revision"),
        ]
        self._carried: tuple[int, int] | None = None

    def take(self, row: Any) -> None:
        """Keep the state from a row of the read's statement (one with `columns` in it)."""
        self._carried = int(row.publication_revision), int(row.publication_snapshot_revision)

    def state(self, conn: Connection) -> tuple[int, int]:
        """The carried (revision, snapshot_revision), else read now (one more round trip)."""
        return self._carried if self._carried is not None else state(conn)


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
