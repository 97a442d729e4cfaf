"""`python -m app.migrate`: upgrade the database the settings name to the newest revision."""

from __future__ import annotations

import json

from app.data.migrate import migrate
from app.engine import engine_for
from app.logging_setup import configure
from app.settings import get_settings


def main() -> None:
    """Upgrade the database DATABASE_URL (or the AWS settings) names; SQLite by default."""
    settings = get_settings()
    configure(settings)
    engine = engine_for(settings)
    try:
        print(json.dumps(migrate(engine)))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
