"""The counters the service keeps, and how it reaches the sink its host configured.

The names are the service's; where the counts go is not: `create_app` is given a sink
(CloudWatch EMF lines on standard output by default, app/aws/metrics.py) and keeps it on
`app.state.metrics`, where routes and error handlers find it.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

CONTACT_MESSAGE_RECEIVED: Final = "ContactMessageReceived"
CONTACT_HONEYPOT: Final = "ContactHoneypotTriggered"
CONTACT_RATE_LIMITED: Final = "ContactRateLimited"
DATABASE_UNAVAILABLE: Final = "DatabaseUnavailable"
NAMES: Final = (
    CONTACT_MESSAGE_RECEIVED,
    CONTACT_HONEYPOT,
    CONTACT_RATE_LIMITED,
    DATABASE_UNAVAILABLE,
)


class Counters(Protocol):
    """A sink for counts: one data point of `name` per call."""

    def count(self, name: str, value: float = 1) -> None: ...


def for_app(app: Any) -> Counters:
    """The sink `create_app` was given."""
    counters: Counters = app.state.metrics
    return counters
