"""Every query the API makes, as keyword-only functions over a Connection."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Table,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

from app.data import publication
from app.data.tables import contact_messages, project_tags, projects

_PROJECT_COLUMNS = [c for c in projects.c if c.name != "id"]
# List items are summaries: the body is neither read nor sent.
_SUMMARY_COLUMNS = [c for c in projects.c if c.name != "body"]
# Pinned (lowest position) first, then newest publication; drafts without a date last.
_LIST_ORDER = (
    projects.c.position.asc().nulls_last(),
    projects.c.published_at.desc().nulls_last(),
    projects.c.created_at.desc(),
    projects.c.id.desc(),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ON CONFLICT support for the two databases the service runs on.

    Imported on use: the other dialect's package would only add cold-start time.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _tags_by_project(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            select(project_tags.c.project_id, project_tags.c.tag)
            .where(project_tags.c.project_id.in_(ids))
            .order_by(project_tags.c.project_id, project_tags.c.position)
        )
        for project_id, tag in rows:
            tags[project_id].append(tag)
    return tags


def _public(row: Row[Any], tags: list[str]) -> dict[str, Any]:
    data = {c.name: getattr(row, c.name) for c in _PROJECT_COLUMNS if c.name in row._fields}
    data["tags"] = tags
    return data


def _tags_column(conn: Connection) -> ColumnElement[Any] | None:
    """PostgreSQL: a project's tags in order, as an array in the project's own row.

    One statement instead of two: a round trip less per read. SQLite (the laptop database) has
    no arrays; there the tags are read by a second query (None).
    """
    if conn.dialect.name != "postgresql":
        return None
    ordered = (
        select(project_tags.c.tag)
        .where(project_tags.c.project_id == projects.c.id)
        .order_by(project_tags.c.position)
        .scalar_subquery()
    )
    return func.array(ordered, type_=ARRAY(String)).label("tags")


def _with_tags(conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    if rows and "tags" in rows[0]._fields:
        return [_public(r, list(r.tags)) for r in rows]
    tags = _tags_by_project(conn, [r.id for r in rows])
    return [_public(r, tags[r.id]) for r in rows]


def list_projects(
    conn: Connection,
    *,
    limit: int,
    offset: int,
    tag: str | None = None,
    featured: bool | None = None,
    published: bool | None = True,
    carry: publication.Carrier | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Project summaries (no body) in list order, and how many match in all.

    `published`: True for the public list, False for drafts only, None for both. The count
    comes with the page (a window count over the filtered rows, computed before LIMIT), so a
    page is one statement; only a page past the end, which has no row to carry it, counts
    again. `carry`'s columns ride in whichever statement answers (app/data/publication.py).
    """
    carried = carry.columns if carry is not None else []
    where: list[ColumnElement[bool]] = []
    if published is not None:
        where.append(projects.c.published.is_(published))
    if featured is not None:
        where.append(projects.c.featured.is_(featured))
    if tag is not None:
        where.append(
            exists().where(project_tags.c.project_id == projects.c.id, project_tags.c.tag == tag)
        )
    tags = _tags_column(conn)
    columns = [*_SUMMARY_COLUMNS, *([tags] if tags is not None else [])]
    total_column = func.count().over().label("total")
    rows = conn.execute(
        select(*columns, total_column, *carried)
        .where(*where)
        .order_by(*_LIST_ORDER)
        .limit(limit)
        .offset(offset)
    ).all()
    first: Any
    if rows:
        first = rows[0]
    else:
        first = conn.execute(
            select(func.count().label("total"), *carried).select_from(projects).where(*where)
        ).one()
    if carry is not None:
        carry.take(first)
    return _with_tags(conn, rows), int(first.total)


def published_projects(conn: Connection) -> list[dict[str, Any]]:
    """Every published project, body and tags included, in list order (the snapshot's)."""
    rows = conn.execute(
        select(projects).where(projects.c.published.is_(True)).order_by(*_LIST_ORDER)
    ).all()
    tags = _tags_by_project(conn, [r.id for r in rows])
    return [_public(r, tags[r.id]) for r in rows]


def get_project(
    conn: Connection,
    *,
    slug: str,
    published_only: bool,
    carry: publication.Carrier | None = None,
) -> dict[str, Any] | None:
    """One project, body and tags included, in one statement on PostgreSQL (`carry`'s
    columns too: app/data/publication.py)."""
    tags = _tags_column(conn)
    carried = carry.columns if carry is not None else []
    query = select(projects, *([tags] if tags is not None else []), *carried).where(
        projects.c.slug == slug
    )
    if published_only:
        query = query.where(projects.c.published.is_(True))
    row = conn.execute(query).first()
    if row is None:
        return None
    if carry is not None:
        carry.take(row)
    return _with_tags(conn, [row])[0]


def _set_tags(conn: Connection, project_id: int, tags: list[str]) -> None:
    conn.execute(delete(project_tags).where(project_tags.c.project_id == project_id))
    if tags:
        conn.execute(
            insert(project_tags),
            [{"project_id": project_id, "tag": tag, "position": i} for i, tag in enumerate(tags)],
        )


def create_project(conn: Connection, *, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Insert a project (its validated fields, tags included) and its tags; None when the slug
    is taken (also by a concurrent insert: ON CONFLICT waits for it). The caller's transaction
    makes the pair atomic."""
    now = _now()
    values = {name: value for name, value in fields.items() if name != "tags"}
    if values["published"] and values.get("published_at") is None:
        values["published_at"] = now  # first publish
    project_id = conn.execute(
        dialect_insert(conn, projects)
        .values(**values, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[projects.c.slug])
        .returning(projects.c.id)
    ).scalar_one_or_none()
    if project_id is None:
        return None
    _set_tags(conn, project_id, fields["tags"])
    if values["published"]:
        publication.bump(conn)
    return get_project(conn, slug=values["slug"], published_only=False)


def update_project(conn: Connection, *, slug: str, sent: dict[str, Any]) -> dict[str, Any] | None:
    """Apply the fields that were sent (validated); None when no project has this slug.

    Only real changes are written: an empty or no-op PATCH leaves the row, and `updated_at`,
    as they were. The row is locked first, so two concurrent PATCHes apply one after the other.
    """
    row = conn.execute(select(projects).where(projects.c.slug == slug).with_for_update()).first()
    if row is None:
        return None
    current = _public(row, _tags_by_project(conn, [row.id])[row.id])
    changes = {name: value for name, value in sent.items() if current[name] != value}
    if not changes:
        return current
    tags = changes.pop("tags", None)
    conn.execute(
        update(projects).where(projects.c.id == row.id).values(**changes, updated_at=_now())
    )
    if tags is not None:
        _set_tags(conn, row.id, tags)
    if row.published or changes.get("published"):
        publication.bump(conn)  # the public saw it before, or sees it now
    # First publish (or a publication date cleared while published): stamp it now.
    conn.execute(
        update(projects)
        .where(
            projects.c.id == row.id,
            projects.c.published.is_(True),
            projects.c.published_at.is_(None),
        )
        .values(published_at=_now())
    )
    return get_project(conn, slug=changes.get("slug", slug), published_only=False)


def delete_project(conn: Connection, *, slug: str) -> bool:
    """Delete a project (its tags go by ON DELETE CASCADE); False when there was none.

    One statement, so of two concurrent deletes the second finds nothing: a 404, not a 204.
    """
    deleted = conn.execute(
        delete(projects).where(projects.c.slug == slug).returning(projects.c.published)
    ).first()
    if deleted is not None and deleted.published:
        publication.bump(conn)
    return deleted is not None


def create_contact_message(
    conn: Connection, *, fields: dict[str, Any], message_id: str | None = None
) -> str:
    """Store a message under `message_id` (the outbox's id when the route chose one first)."""
    message_id = message_id or uuid.uuid4().hex
    conn.execute(
        insert(contact_messages).values(
            id=message_id,
            created_at=_now(),
            **{name: value for name, value in fields.items() if name != "website"},
        )
    )
    return message_id


def list_contact_messages(
    conn: Connection, *, limit: int, offset: int, unread: bool | None = None
) -> tuple[list[dict[str, Any]], int]:
    where = [] if unread is None else [contact_messages.c.read.is_(not unread)]
    total = conn.execute(
        select(func.count()).select_from(contact_messages).where(*where)
    ).scalar_one()
    rows = (
        conn.execute(
            select(contact_messages)
            .where(*where)
            .order_by(contact_messages.c.created_at.desc(), contact_messages.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows], total


def mark_contact_message(conn: Connection, *, message_id: str, read: bool) -> dict[str, Any] | None:
    """Set a message's read flag; None when no message has this id."""
    row = (
        conn.execute(
            update(contact_messages)
            .where(contact_messages.c.id == message_id)
            .values(read=read)
            .returning(*contact_messages.c)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def delete_contact_message(conn: Connection, *, message_id: str) -> bool:
    """Erase a message (spam, or an erasure request); False when no message has this id."""
    result = conn.execute(delete(contact_messages).where(contact_messages.c.id == message_id))
    return result.rowcount == 1
