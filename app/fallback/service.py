"""The fallback as the app holds it: the store, the snapshot reader, the read budget.

`Fallback.for_app(app)` is None when no store was given to create_app() (a laptop, SQLite):
the routes then use the database only, exactly as without this package.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from app.fallback import snapshot
from app.fallback.budget import Breaker
from app.fallback.store import ObjectStore

logger = logging.getLogger("app.fallback")

# Response headers: where a public answer came from, and the snapshot's revision and age.
SOURCE_HEADER = "X-Content-Source"
REVISION_HEADER = "X-Snapshot-Revision"
AGE_HEADER = "X-Snapshot-Age"
# An admin write whose snapshot could not be written says so (the next read or write repairs).
SNAPSHOT_HEADER = "X-Snapshot"


@dataclass
class Fallback:
    store: ObjectStore
    budget_seconds: float
    reader: snapshot.Reader = field(init=False)
    # Set when this environment wrote to the outbox: its next database success drains it.
    outbox_pending: threading.Event = field(default_factory=threading.Event)
    # Open while an over-budget database attempt of this environment is still running: public
    # reads and the contact form then answer from the snapshot and the outbox at once.
    breaker: Breaker = field(default_factory=Breaker)

    def __post_init__(self) -> None:
        self.reader = snapshot.Reader(self.store)

    @staticmethod
    def for_app(app: Any) -> Fallback | None:
        found: Fallback | None = getattr(app.state, "fallback", None)
        return found

    def publish_after_write(self, engine: Engine) -> bool:
        """Write the snapshot after a committed admin write; False if it could not be."""
        try:
            snapshot.publish(engine, self.store)
        except Exception as error:
            logger.warning("snapshot not written: %s", type(error).__name__)
            return False
        return True
