"""The two facts every host writes into the ASGI scope, and the only ones the service reads.

A host (app/hosts/) knows where a request came from and how long it may run; the routes and
the data layer must not. So each host puts into the request's scope:
- `CLIENT`: the caller's identity, `normalise`d from the address the host trusts (the source
  address API Gateway or ALB saw under Lambda; the peer, or a trusted proxy's entry, under
  the HTTP server), or None when the host has none. The per-client limit and the idempotency
  scope both use it, so they always agree on who a client is;
- `DEADLINE`: the `time.monotonic()` by which the request's work must end, or None.

Starlette copies the scope into every `Request`, so routes read them with `client_of` and
`deadline_of` and nothing else about the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final

CLIENT: Final = "portfolio.client"
DEADLINE: Final = "portfolio.deadline"


def normalise(address: str | None) -> str | None:
    """One identity per client: an IPv4 address (however written), or an IPv6 /64.

    A single IPv6 host is usually given a whole /64, so counting its addresses one by one
    would hand it 2^64 allowances. Text that is not an address is kept as it is; no text at
    all is None.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def client_of(scope: Mapping[str, Any]) -> str | None:
    """The caller's identity as the host wrote it (the normalised ASGI peer when none did)."""
    if CLIENT in scope:
        value = scope[CLIENT]
        return value if isinstance(value, str) and value else None
    client = scope.get("client")
    return normalise(str(client[0])) if client else None


def deadline_of(scope: Mapping[str, Any]) -> float | None:
    """When the request's work must end (`time.monotonic()`), or None without a deadline."""
    value = scope.get(DEADLINE)
    return float(value) if isinstance(value, int | float) else None
