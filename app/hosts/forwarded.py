"""X-Forwarded-For as the hosts read it: one list across header lines, ports stripped.

Repeated header lines are one comma-separated list (RFC 9110, section 5.3). A proxy that
preserves client ports (ALB's routing.http.xff_client_port.enabled) writes `ip:port`, or
`[ipv6]:port`; the port is not part of who the client is.
"""

from __future__ import annotations

from collections.abc import Iterable


def entries(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every X-Forwarded-For entry of ASGI `headers`, in order, across all header lines."""
    lines = [value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"]
    return [entry.strip() for entry in ",".join(lines).split(",") if entry.strip()]


def strip_port(entry: str) -> str:
    """`203.0.113.7:4321` -> `203.0.113.7`, `[2001:db8::1]:4321` -> `2001:db8::1`.

    A bare IPv6 address (several colons, no brackets) is left whole: its last group is not
    a port.
    """
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry
