"""The publication revision: a counter of changes to public content, for the snapshot.

publication: one row. `revision` is bumped in the transaction of every admin write that
changes what the public sees; `snapshot_revision` is the revision the snapshot in the object
store is known to hold. revision > snapshot_revision means the snapshot is behind (a write
committed but its snapshot was not written): the next read or write repairs it. The row
starts at 1 / 0 so that the first deploy (the migration custom resource) writes a snapshot.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "publication",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("snapshot_revision", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="publication_one_row"),
    )
    op.bulk_insert(table, [{"id": 1, "revision": 1, "snapshot_revision": 0}])


def downgrade() -> None:
    op.drop_table("publication")
