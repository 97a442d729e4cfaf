"""The two facts every host writes into the ASGI scope, and the only ones the service reads.

A host (app/hosts/) knows where a request came from and how long it may run; the routes and
the data layer must not. So each host puts into the request's scope:
- `CLIENT`: the caller's address, normalised by the host (the source address API Gateway or
  ALB saw under Lambda; the peer, or a trusted proxy's entry, under the HTTP server), or None
  when the host has none;
- `DEADLINE`: the `time.monotonic()` by which the request's work must end, or None.

Starlette copies the scope into every `Request`, so routes read them with `client_of` and
`deadline_of` and nothing else about the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

CLIENT: Final = "portfolio.client"
DEADLINE: Final = "portfolio.deadline"


def client_of(scope: Mapping[str, Any]) -> str | None:
    """The caller's address as the host reported it (the ASGI peer when no host wrote one)."""
    if CLIENT in scope:
        value = scope[CLIENT]
        return value if isinstance(value, str) and value else None
    client = scope.get("client")
    return str(client[0]) if client else None


def deadline_of(scope: Mapping[str, Any]) -> float | None:
    """When the request's work must end (`time.monotonic()`), or None without a deadline."""
    value = scope.get(DEADLINE)
    return float(value) if isinstance(value, int | float) else None
