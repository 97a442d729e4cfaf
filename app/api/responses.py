"""Error answers shared by several routes, so the OpenAPI schema lists every status they give."""

from __future__ import annotations

from typing import Any

Responses = dict[int | str, dict[str, Any]]

# An error answer's body: the ErrorBody schema by reference (app/api/openapi.py adds it to the
# components). Not `"content": ERROR_BODY`: for each route and status naming a model FastAPI builds
# a validator at import (47 of them, 8 ms of every cold start), only to write this reference.
ERROR_BODY: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
}

# Every route that queries the database (app/errors.py turns its outages into 503).
DATABASE_ERRORS: Responses = {
    503: {
        "content": ERROR_BODY,
        "description": "Database unavailable, try again shortly",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}

# Every route that reads a JSON body. 422 is either the list of validation problems (type,
# loc, msg: never the input, app/errors.py) or a sentence (e.g. an Idempotency-Key reused
# with another body), hence ErrorBody for both.
BODY_ERRORS: Responses = {
    400: {"content": ERROR_BODY, "description": "Body is not UTF-8 JSON"},
    413: {"content": ERROR_BODY, "description": "Body over the size limit"},
    422: {"content": ERROR_BODY, "description": "Invalid input"},
}

# Every admin route (app/security.py): a missing or wrong token, or no digest configured.
ADMIN_ERRORS: Responses = {
    401: {"content": ERROR_BODY, "description": "Missing or wrong admin token"},
    503: {
        "content": ERROR_BODY,
        "description": "Admin access not configured or database unavailable",
    },
}

NOT_FOUND: Responses = {404: {"content": ERROR_BODY}}

# Headers of public reads (app/fallback/reads.py, app/caching.py), documented so that clients
# know them and so that CORS exposes every one (tests/test_cors.py: a browser hides a
# response header from a cross-origin script unless it is exposed).
_ETAG = {
    "description": "Digest of the body, the same from either source; send it as If-None-Match",
    "schema": {"type": "string"},
}
_SOURCE = {
    "description": "Where the answer came from: `database`, or `snapshot` when the database "
    "did not answer within DB_READ_BUDGET_MS (docs/paused-database.md)",
    "schema": {"type": "string", "enum": ["database", "snapshot"]},
}
_SNAPSHOT_INFO = {
    "X-Snapshot-Revision": {
        "description": "The snapshot's revision (answers from the snapshot only)",
        "schema": {"type": "integer"},
    },
    "X-Snapshot-Age": {
        "description": "Seconds since the snapshot was written (answers from the snapshot only)",
        "schema": {"type": "integer"},
    },
}
PUBLIC_READ: Responses = {
    200: {"headers": {"ETag": _ETAG, "X-Content-Source": _SOURCE, **_SNAPSHOT_INFO}},
    304: {
        "description": "Not modified: If-None-Match matched the current ETag",
        "headers": {"ETag": _ETAG},
    },
}

# POST /contact: stored in the database, or in the outbox while the database is away.
CONTACT_ACCEPTED: Responses = {
    202: {
        "headers": {
            "X-Content-Source": {
                "description": "`database`, or `outbox` when the database did not answer within "
                "the budget (the message is moved in once it is back)",
                "schema": {"type": "string", "enum": ["database", "outbox"]},
            }
        }
    }
}


def snapshot_written(status: int) -> Responses:
    """An admin write that changes public content: whether the snapshot followed it."""
    return {
        status: {
            "headers": {
                "X-Snapshot": {
                    "description": "`current`: the public snapshot has this change; `stale`: "
                    "it could not be written, and the next read or write repairs it",
                    "schema": {"type": "string", "enum": ["current", "stale"]},
                }
            }
        }
    }
