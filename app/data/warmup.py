"""Connect and prepare the hot reads in the background while the first request is on its way.

A cold start's first read used to pay for opening the connection (TLS handshake, login,
SQLAlchemy's first-connect queries, the statement timeout) and for compiling its statement.
`start()` does both in a daemon thread, on the pool's own connection, so the first request
finds it open and the statements in the engine's compiled cache. Nothing waits for the thread:
INIT ends whether the database answers or not (a paused Aurora resumes in 15 s or more,
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html,
and Lambda's Init phase is limited to 10 s,
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), and a request
that needs the connection while the thread still holds it waits for the pool, at most the
pool's timeout (DB_CONNECT_TIMEOUT), as any request does. A failure here is only logged: the
request tries again and answers for itself.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from app.data import crud, publication, reads

logger = logging.getLogger("app.db")

# What a first visit asks for: the first page of the public list (app/api/pagination.py's
# default limit) and one project; the slug matches nothing, the statement is what is kept.
FIRST_PAGE = 20
NO_SLUG = ""


def warm(engine: Engine, *, carry: bool = False) -> None:
    """Open the pooled connection and run the hot reads once (their compiled forms are kept).

    `carry`: with the fallback on, the public reads carry the publication state
    (app/fallback/reads.py); those are the statements to compile.
    """
    try:
        with reads.reader(engine) as read:
            carrier = publication.Carrier() if carry else None
            read(crud.list_projects, limit=FIRST_PAGE, offset=0, carry=carrier)
            read(crud.get_project, slug=NO_SLUG, published_only=True, carry=carrier)
    except Exception as error:  # a warm-up that fails changes nothing
        logger.info("database warm-up did not complete: %s", type(error).__name__)


def start(engine: Engine, *, carry: bool = False) -> threading.Thread:
    """Run `warm(engine, carry=carry)` in a daemon thread and return at once."""
    thread = threading.Thread(
        target=warm, args=(engine,), kwargs={"carry": carry}, name="db-warmup", daemon=True
    )
    thread.start()
    return thread
