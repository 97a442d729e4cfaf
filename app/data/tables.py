"""The schema as SQLAlchemy Core tables.

Core rather than the ORM: the ORM costs ~50 ms more to import at every cold start and the
service needs nothing it offers beyond typed tables and composable statements.
The migrations in migrations/versions are the source of truth; these must match them
(tests/test_migrations.py compares the two).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL and SQLite alike (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("summary", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("url", String(2048)),
    Column("repo_url", String(2048)),
    Column("featured", Boolean, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Presentation (migration 0003): a cover image with its alt text, the publication date
    # the public list is ordered by, and a manual position that pins ahead of it.
    Column("cover_image_url", String(2048)),
    Column("cover_image_alt", String(200)),
    Column("published_at", UTCDateTime),
    Column("position", Integer),
)

# Tags in their own table: filtering by tag stays portable SQL and uses an index.
project_tags = Table(
    "project_tags",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(32), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

contact_messages = Table(
    "contact_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("read", Boolean, nullable=False, server_default=false()),
)

# POST /contact per client and window (migration 0003). The client is a keyed hash of its
# address, never the address. One row per client with a message in the current window, so
# the table is bounded by the distinct clients the route's throttle lets in per window;
# expired rows are deleted as new messages arrive.
contact_rate_limits = Table(
    "contact_rate_limits",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False, index=True),
    Column("count", Integer, nullable=False),
)

# A retried POST with the same Idempotency-Key replays the stored answer instead of writing twice.
# `key` holds a digest of (caller, key) (app/data/idempotency.py); created_at is indexed for the
# bounded cleanup of expired keys.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("scope", String(100), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# The revision of public content (migration 0005): one row, bumped in the transaction of every
# admin write that changes what the public sees, so revision order is commit order (the row
# lock serialises them). `snapshot_revision` is what the object store's snapshot is known to
# hold (app/fallback/snapshot.py).
publication = Table(
    "publication",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
    Column("snapshot_revision", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="publication_one_row"),
)
