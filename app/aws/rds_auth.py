"""RDS IAM database authentication: the auth token, computed locally, as the password.

An RDS auth token is a SigV4 presigned URL for the `rds-db:connect` action, without its
`https://`; it is valid for 15 minutes and checked only when a connection is opened
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Connecting.html).
Making one needs no network call, so the function needs neither a database secret nor a
Secrets Manager endpoint in its VPC. RDS accepts tokens over TLS only: the settings refuse
DB_IAM_AUTH with a non-TLS sslmode, and the default with it is `verify-full`.

The signing is app.aws.sigv4 (the one SigV4 implementation, shared with the Secrets Manager call);
the token is checked byte for byte against botocore's `generate_db_auth_token`
(tests/test_rds_auth.py). boto3/botocore are never in the image.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from app.aws.sigv4 import ALGORITHM, EMPTY_SHA256, Credentials, signature
from app.settings import Settings

# What botocore presigns with; RDS accepts at most 900 seconds.
TOKEN_LIFETIME_SECONDS = 900


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _canonical_host(host: str, port: int) -> str:
    """The host as botocore signs it (its `_canonical_host` of `https://host:port`).

    Host names are case-insensitive (RFC 4343) and the signer's canonical host is the
    lowercased one; the token itself keeps the host as given. The port is left out when it is
    https' default, 443. Checked against botocore with randomized mixed-case hosts and ports.
    """
    return host.lower() if port == 443 else f"{host.lower()}:{port}"


def generate_auth_token(
    *,
    host: str,
    port: int,
    user: str,
    region: str,
    credentials: Credentials,
    now: dt.datetime | None = None,
) -> str:
    """The token `user` presents as its password to `host:port` (as botocore makes it)."""
    amz_date = (now or _utcnow()).strftime("%Y%m%dT%H%M%SZ")
    netloc = f"{host}:{port}"
    scope = f"{amz_date[:8]}/{region}/rds-db/aws4_request"
    # Operation parameters first, then the signing parameters, in botocore's order.
    params = [
        ("Action", "connect"),
        ("DBUser", user),
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key_id}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Expires", str(TOKEN_LIFETIME_SECONDS)),
    ]
    if credentials.session_token:
        params.append(("X-Amz-Security-Token", credentials.session_token))
    query = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in params)
    _, _, signature_hex = signature(
        "GET",
        f"https://{netloc}/?{query}",
        {"host": _canonical_host(host, port)},
        EMPTY_SHA256,
        credentials=credentials,
        region=region,
        service="rds-db",
        amz_date=amz_date,
    )
    return f"{netloc}/?{query}&X-Amz-Signature={signature_hex}"


class IamAuthToken:
    """`do_connect` hook: a fresh auth token as the password of every new connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._container: Any = None  # ContainerCredentials, made on first use on ECS

    @staticmethod
    def url(settings: Settings) -> URL:
        """The connection target, without a password (the token is added per connection)."""
        return URL.create(
            "postgresql+psycopg2",
            username=settings.db_user,
            host=settings.db_host,
            port=settings.db_port,
            database=settings.db_name,
        )

    def credentials(self) -> Credentials:
        """Lambda's AWS_* variables, else the ECS task role's (from the container agent)."""
        settings = self.settings
        if settings.aws_access_key_id and settings.aws_secret_access_key:
            return Credentials(
                settings.aws_access_key_id,
                settings.aws_secret_access_key,
                settings.aws_session_token,
            )
        from app.aws import container_credentials

        url = container_credentials.url_for(settings)
        if url is None:
            raise RuntimeError(
                "no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a task role's "
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
            )
        if self._container is None:
            self._container = container_credentials.ContainerCredentials(url)
        credentials: Credentials = self._container.get()
        return credentials

    def __call__(self, _dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        settings = self.settings
        try:
            credentials = self.credentials()
        except (RuntimeError, OSError, ValueError) as error:
            # As a database error it becomes a 503 like any other failure to connect.
            raise sa_exc.OperationalError("making the RDS auth token", None, error) from None
        # The settings guarantee these with DB_IAM_AUTH; asserted for the type checker.
        assert settings.db_host and settings.db_user and settings.aws_region
        cparams["password"] = generate_auth_token(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            region=settings.aws_region,
            credentials=credentials,
        )
