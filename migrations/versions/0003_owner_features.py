"""Presentable projects, an inbox and per-client limits on the contact form.

projects: cover_image_url, cover_image_alt, published_at (filled from created_at for the
rows already published, so the public order stays what it was), position; URLs percent-
encoded to the characters RFC 3986 allows, as the API now requires.
contact_messages: read (false for every existing message).
contact_rate_limits: one row per client and window, the client as a keyed hash.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
# RFC 3986 reserved and unreserved characters, plus "%" so existing escapes stay as they are.
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("cover_image_url", sa.String(2048)))
        batch.add_column(sa.Column("cover_image_alt", sa.String(200)))
        batch.add_column(sa.Column("published_at", _TS))
        batch.add_column(sa.Column("position", sa.Integer))
    projects = sa.table(
        "projects",
        sa.column("id", sa.Integer),
        sa.column("published", sa.Boolean),
        sa.column("created_at", _TS),
        sa.column("published_at", _TS),
        sa.column("url", sa.String),
        sa.column("repo_url", sa.String),
    )
    bind = op.get_bind()
    bind.execute(
        projects.update()
        .where(projects.c.published.is_(True))
        .values(published_at=projects.c.created_at)
    )
    for row in bind.execute(sa.select(projects.c.id, projects.c.url, projects.c.repo_url)):
        changes = {
            name: quote(value, safe=_URI_SAFE)
            for name, value in (("url", row.url), ("repo_url", row.repo_url))
            if value is not None and quote(value, safe=_URI_SAFE) != value
        }
        if changes:
            bind.execute(projects.update().where(projects.c.id == row.id).values(**changes))

    with op.batch_alter_table("contact_messages") as batch:
        batch.add_column(
            sa.Column("read", sa.Boolean, nullable=False, server_default=sa.false())
        )

    op.create_table(
        "contact_rate_limits",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_contact_rate_limits_window_start", "contact_rate_limits", ["window_start"]
    )


def downgrade() -> None:
    op.drop_index("ix_contact_rate_limits_window_start", "contact_rate_limits")
    op.drop_table("contact_rate_limits")
    with op.batch_alter_table("contact_messages") as batch:
        batch.drop_column("read")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("position")
        batch.drop_column("published_at")
        batch.drop_column("cover_image_alt")
        batch.drop_column("cover_image_url")
