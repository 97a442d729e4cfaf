"""Alembic environment: always driven by app.data.migrate, which hands over a locked connection."""

from __future__ import annotations

from alembic import context

from app.data.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; PostgreSQL alters in place.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
