"""Migration 0003 (presentation, inbox, per-client limits) on a database that has data."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.data.migrate import MIGRATIONS, migrate


def test_0003_upgrades_existing_data(fresh_engine: Engine) -> None:
    """From the schema before 0003, with rows in it: dates filled, URLs encoded, all unread."""
    from alembic.script import ScriptDirectory

    before = ScriptDirectory(str(MIGRATIONS)).get_revision("0003").down_revision
    assert isinstance(before, str)
    migrate(fresh_engine, before)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (slug, title, summary, body, url, repo_url, featured,"
                " published, created_at, updated_at) VALUES"
                " ('old', 'Old', '', '', 'https://example.com/caf\u00e9 menu', NULL, false, true,"
                "  '2020-01-02T03:04:05Z', '2021-01-01T00:00:00Z'),"
                " ('draft', 'Draft', '', '', NULL, 'https://example.com/r%C3%A9po', false, false,"
                "  '2022-01-01T00:00:00Z', '2022-01-01T00:00:00Z')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO contact_messages (id, name, email, message, created_at) VALUES"
                " ('0123456789abcdef0123456789abcdef', 'Ada', 'ada@example.com', 'Hi',"
                "  '2020-01-01T00:00:00Z')"
            )
        )

    assert migrate(fresh_engine, "0003")["applied"] == ["0003"]

    with fresh_engine.connect() as conn:
        rows = {
            r.slug: r
            for r in conn.execute(
                text("SELECT slug, url, repo_url, published_at, created_at, position FROM projects")
            )
        }
        read = conn.execute(text("SELECT read FROM contact_messages")).scalar_one()
    # Published rows keep their place in the public order: published_at = created_at.
    assert rows["old"].published_at == rows["old"].created_at
    assert rows["draft"].published_at is None
    # Non-ASCII is percent-encoded (as UTF-8); existing escapes are left alone.
    assert rows["old"].url == "https://example.com/caf%C3%A9%20menu"
    assert rows["draft"].repo_url == "https://example.com/r%C3%A9po"
    assert rows["old"].position is None
    assert read is False
    # What was stored now passes the API's own rules.
    from app.api.schemas import ProjectUpdate

    ProjectUpdate(url=rows["old"].url, repo_url=rows["draft"].repo_url)
