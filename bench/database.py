"""The benchmark's database: a throwaway PostgreSQL on loopback, migrated and seeded.

It reuses the test suite's cluster (tests/postgres.py), so the bench needs nothing the suite
does not; `GET /projects` then reads real rows over a real connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator

from sqlalchemy import create_engine, insert, text

SEED_PROJECTS = 12


def seed(url: str) -> None:
    """Migrate the database at `url` and replace its projects with the bench's."""
    from app.data.migrate import migrate
    from app.data.tables import project_tags, projects

    engine = create_engine(url)
    try:
        migrate(engine)
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE projects, project_tags RESTART IDENTITY CASCADE"))
            for i in range(SEED_PROJECTS):
                row = conn.execute(
                    insert(projects).returning(projects.c.id),
                    {
                        "slug": f"project-{i}",
                        "title": f"Project {i}",
                        "summary": "A project seeded by the cold-start benchmark.",
                        "body": "Lorem ipsum " * 20,
                        "url": f"https://example.com/{i}",
                        "repo_url": None,
                        "featured": i % 3 == 0,
                        "published": True,
                        "created_at": now + dt.timedelta(days=i),
                        "updated_at": now + dt.timedelta(days=i),
                    },
                ).scalar_one()
                conn.execute(
                    insert(project_tags),
                    [
                        {"project_id": row, "tag": tag, "position": n}
                        for n, tag in enumerate(("python", "aws", "lambda"))
                    ],
                )
    finally:
        engine.dispose()


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """Yield the URL of a migrated, seeded database; BENCH_DATABASE_URL uses an existing one."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        seed(given)
        yield given
        return
    from tests.postgres import throwaway_cluster

    with throwaway_cluster() as cluster:
        seed(cluster.url)
        yield cluster.url
