"""The statement timeout becomes the application role's default in this database.

`ALTER ROLE <the migrating role> IN DATABASE <this database> SET statement_timeout`: every new
session of the role starts with it, so requests no longer send `SET LOCAL statement_timeout`
in each transaction (a round trip each, and a `SET` pins an RDS Proxy session:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-pinning.html).
The migrations run as the role the API connects as (template.yaml gives both functions the same
DB_USER), and a role may set its own defaults. The value is the default of
DB_STATEMENT_TIMEOUT_MS; a deployment that sets another value, or a request whose deadline is
nearer, still gets its own (app/data/db_limits.py compares with the session's value).
SQLite has no roles: nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# DB_STATEMENT_TIMEOUT_MS's default (app/settings.py), fixed here: a migration must not change
# with the settings of whoever runs it.
STATEMENT_TIMEOUT_MS = 5000


def _for_this_role_and_database(action: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Role and database names are identifiers, not literals: format() quotes them (%I).
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I "
        + action
        + "', current_user, current_database()); END $$"
    )


def upgrade() -> None:
    _for_this_role_and_database(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")


def downgrade() -> None:
    _for_this_role_and_database("RESET statement_timeout")
