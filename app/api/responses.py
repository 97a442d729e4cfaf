"""Error answers shared by several routes, so the OpenAPI schema lists every status they give."""

from __future__ import annotations

from typing import Any

from app.api.schemas import ErrorBody

Responses = dict[int | str, dict[str, Any]]

# Every route that queries the database (app/errors.py turns its outages into 503).
DATABASE_ERRORS: Responses = {
    503: {
        "model": ErrorBody,
        "description": "Database unavailable, try again shortly",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}

# Every route that reads a JSON body. 422 is either the list of validation problems (type,
# loc, msg: never the input, app/errors.py) or a sentence (e.g. an Idempotency-Key reused
# with another body), hence ErrorBody for both.
BODY_ERRORS: Responses = {
    400: {"model": ErrorBody, "description": "Body is not UTF-8 JSON"},
    413: {"model": ErrorBody, "description": "Body over the size limit"},
    422: {"model": ErrorBody, "description": "Invalid input"},
}

# Every admin route (app/security.py): a missing or wrong token, or no digest configured.
ADMIN_ERRORS: Responses = {
    401: {"model": ErrorBody, "description": "Missing or wrong admin token"},
    503: {
        "model": ErrorBody,
        "description": "Admin access not configured or database unavailable",
    },
}

NOT_FOUND: Responses = {404: {"model": ErrorBody}}
