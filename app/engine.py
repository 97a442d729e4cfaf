"""The engine for a set of settings: app/data builds it, app/aws supplies the AWS login.

The one place the two meet, so that the data layer never imports AWS code; the app's lifespan,
the migration command and the seed script all get their engine here.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.aws import db_login
from app.data.db import build_engine
from app.settings import Settings


def engine_for(settings: Settings) -> Engine:
    """Create (without connecting) the engine `settings` describe, credentials included."""
    return build_engine(settings, db_login.for_settings(settings))
