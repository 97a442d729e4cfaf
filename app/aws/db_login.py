"""How the engine logs in on AWS: an IAM token or the database secret, chosen by the settings.

app/data/db.py builds the engine from plain values; this module supplies the `Login` it is
given when the settings name an AWS way in (the composition root, app/engine.py, passes it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.data import db_limits
from app.data.db import Login
from app.settings import Settings


def for_settings(settings: Settings) -> Login | None:
    """The login `settings` ask for, or None when DATABASE_URL itself says how."""
    if settings.db_iam_auth:
        # A token instead of a password, computed at each new connection (tokens expire).
        from app.aws.rds_auth import IamAuthToken

        return Login(IamAuthToken.url(settings), IamAuthToken(settings))
    if settings.database_secret_arn:
        # Credentials come from Secrets Manager at the first connection, not at INIT: an
        # unreachable endpoint then costs a 503, not a failed execution environment.
        return Login("postgresql+psycopg2://", SecretCredentials(settings))
    return None


# After a failed fetch, the next is not tried for 1 s, then 2, 4, ... at most 30 s: an outage
# of Secrets Manager (or of the way to it) then costs each request an immediate 503, not a
# fresh wait of up to DB_CONNECT_TIMEOUT.
FIRST_BACKOFF_S, MAX_BACKOFF_S = 1.0, 30.0


class SecretCredentials:
    """`do_connect` hook: fill host, user and password in from the database secret.

    The secret is fetched once and kept. A refused login (the password was rotated) drops it
    and connects once more with the secret read afresh; any other connect error (refused,
    unreachable, timed out) keeps it: the secret is not what failed. A fetch waits at most
    the connect timeout (DB_CONNECT_TIMEOUT, already lowered to the request's deadline by
    app/data/db_limits.py), and a failed one is not retried before its backoff has passed.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.params: dict[str, Any] | None = None
        self._clock = clock
        self._failures = 0
        self._retry_at = 0.0

    def _read(self, dialect: Any, timeout: float) -> dict[str, Any]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, OperationalError

        from app.aws.aws_secrets import SecretsManagerError, database_url_from_secret

        now = self._clock()
        if now < self._retry_at:
            raise OperationalError(
                "reading the database secret",
                None,
                SecretsManagerError(f"failed recently; next try in {self._retry_at - now:.1f} s"),
            )
        try:
            url = make_url(
                database_url_from_secret(
                    self.settings,
                    endpoint=self.settings.aws_endpoint_url_secrets_manager,
                    timeout=timeout,
                )
            )
        except (SecretsManagerError, ArgumentError) as error:
            self._failures += 1
            backoff = min(FIRST_BACKOFF_S * 2 ** (self._failures - 1), MAX_BACKOFF_S)
            self._retry_at = self._clock() + backoff
            # As a database error it becomes a 503 like any other outage.
            raise OperationalError("reading the database secret", None, error) from None
        self._failures, self._retry_at = 0, 0.0
        params: dict[str, Any] = dialect.create_connect_args(url)[1]
        return params

    def _timeout(self, cparams: dict[str, Any]) -> float:
        timeout = float(cparams.get("connect_timeout") or self.settings.db_connect_timeout)
        left = db_limits.seconds_left()
        return timeout if left is None else max(0.1, min(timeout, left))

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cached = self.params is not None
        if self.params is None:
            self.params = self._read(dialect, self._timeout(cparams))
        try:
            return dialect.connect(*cargs, **{**cparams, **self.params})
        except dialect.loaded_dbapi.OperationalError as error:
            if not _refused_login(error):
                raise
            self.params = None
            if not cached:  # the secret was fresh: reading it again would not help
                raise
        self.params = self._read(dialect, self._timeout(cparams))
        return dialect.connect(*cargs, **{**cparams, **self.params})


def _refused_login(error: Exception) -> bool:
    # libpq reports a failed login before a session exists, so psycopg2 gives no SQLSTATE;
    # the server's FATAL message is the only sign (28P01, in English unless lc_messages is
    # changed, which RDS and Aurora do not do by default).
    code = getattr(error, "pgcode", None)
    return code in ("28P01", "28000") or "authentication failed" in str(error)
