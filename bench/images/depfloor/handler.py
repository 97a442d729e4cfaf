"""The conventional dependency floor: import the usual FastAPI-on-Lambda stack, use none of it.

Whatever the service adds on top of these four imports (its own code, building the app, the
first query) is what the benchmark compares against this module.
"""

from typing import Any

import fastapi  # noqa: F401
import mangum  # noqa: F401
import psycopg2  # noqa: F401
import sqlalchemy.orm  # noqa: F401

BODY = '{"status":"ok"}'


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer every event with the same small JSON response."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": BODY}
