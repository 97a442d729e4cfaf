"""The trivial-handler floor: a function that imports nothing and answers at once."""

from typing import Any

BODY = '{"status":"ok"}'


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer every event with the same small JSON response."""
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": BODY}
