"""How the engine logs in on AWS: an IAM token or the database secret, chosen by the settings.

app/data/db.py builds the engine from plain values; this module supplies the `Login` it is
given when the settings name an AWS way in (the composition root, app/engine.py, passes it).
"""

from __future__ import annotations

from typing import Any

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


class SecretCredentials:
    """`do_connect` hook: fill host, user and password in from the database secret.

    The secret is fetched once and kept. A refused login (the password was rotated) drops it
    and connects once more with the secret read afresh; any other connect error (refused,
    unreachable, timed out) keeps it: the secret is not what failed.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.params: dict[str, Any] | None = None

    def _read(self, dialect: Any) -> dict[str, Any]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import OperationalError

        from app.aws.aws_secrets import SecretsManagerError, database_url_from_secret

        try:
            url = make_url(
                database_url_from_secret(
                    self.settings, endpoint=self.settings.aws_endpoint_url_secrets_manager
                )
            )
        except SecretsManagerError as error:
            # As a database error it becomes a 503 like any other outage.
            raise OperationalError("reading the database secret", None, error) from None
        params: dict[str, Any] = dialect.create_connect_args(url)[1]
        return params

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cached = self.params is not None
        if self.params is None:
            self.params = self._read(dialect)
        try:
            return dialect.connect(*cargs, **{**cparams, **self.params})
        except dialect.loaded_dbapi.OperationalError as error:
            if not _refused_login(error):
                raise
            self.params = None
            if not cached:  # the secret was fresh: reading it again would not help
                raise
        self.params = self._read(dialect)
        return dialect.connect(*cargs, **{**cparams, **self.params})


def _refused_login(error: Exception) -> bool:
    # libpq reports a failed login before a session exists, so psycopg2 gives no SQLSTATE;
    # the server's FATAL message is the only sign (28P01, in English unless lc_messages is
    # changed, which RDS and Aurora do not do by default).
    code = getattr(error, "pgcode", None)
    return code in ("28P01", "28000") or "authentication failed" in str(error)
