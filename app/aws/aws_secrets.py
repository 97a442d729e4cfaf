"""Read a JSON secret from AWS Secrets Manager with the standard library only.

Why not boto3: it is about 25 MB installed and importing it costs hundreds of milliseconds of
cold start, all to make one signed HTTPS POST at the first database use. That POST is
`GetSecretValue`, signed with AWS Signature Version 4 (app/aws/sigv4.py). The signer is checked
against the published SigV4 test-suite vectors and the whole call against a local stand-in
for Secrets Manager (tests/test_aws_secrets.py).

Nothing here reads the environment: credentials, region and endpoint arrive as arguments
(the settings object reads Lambda's AWS_* variables and passes them in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

# The signer lives in app/aws/sigv4.py (shared with the RDS auth token); re-exported here.
from app.aws.sigv4 import EMPTY_SHA256, Credentials, sign, signing_key  # noqa: F401


class SecretsManagerError(RuntimeError):
    """GetSecretValue failed; the message names the AWS error, never the secret."""


# -- GetSecretValue ----------------------------------------------------------------------


def region_of_arn(arn: str) -> str | None:
    """The region field of an ARN (`arn:partition:service:region:account:...`), if any."""
    fields = arn.split(":")
    return fields[3] or None if len(fields) > 5 and fields[0] == "arn" else None


def default_endpoint(region: str) -> str:
    """The public regional endpoint (private DNS of a VPC endpoint resolves the same name)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://secretsmanager.{region}.{suffix}"


def get_secret_json(
    arn: str,
    *,
    credentials: Credentials,
    region: str | None = None,
    endpoint: str | None = None,
    timeout: float = 5.0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Fetch secret `arn` (an ARN or a name) and parse its SecretString as a JSON object.

    The region comes from the ARN when it has one, else from `region`. `endpoint` replaces
    the AWS endpoint (tests point it at a local server).
    """
    region = region_of_arn(arn) or region
    if not region:
        raise SecretsManagerError("no region: pass one or use a full secret ARN")
    url = (endpoint or default_endpoint(region)).rstrip("/") + "/"
    body = json.dumps({"SecretId": arn}).encode()
    amz_date = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": urllib.parse.urlsplit(url).netloc,
        "x-amz-date": amz_date,
        "x-amz-target": "secretsmanager.GetSecretValue",
    }
    if credentials.session_token:
        headers["x-amz-security-token"] = credentials.session_token
    headers["authorization"] = sign(
        "POST",
        url,
        headers,
        hashlib.sha256(body).hexdigest(),
        credentials=credentials,
        region=region,
        service="secretsmanager",
        amz_date=amz_date,
    )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    # Every reply is untrusted input: a proxy's HTML page, a body cut short, JSON of the wrong
    # shape. Each becomes a SecretsManagerError (a 503 for the request), never a crash.
    # `timeout` bounds each socket operation; the whole exchange is bounded by `ends` too,
    # so a reply that trickles in cannot outlast it.
    ends = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(_read_within(response, ends))
    except urllib.error.HTTPError as exc:
        raise SecretsManagerError(f"GetSecretValue failed: {_aws_error(exc)}") from None
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        # HTTPException: a garbled status line, a body shorter than its Content-Length.
        raise SecretsManagerError(
            f"GetSecretValue could not reach {url}: {type(exc).__name__}"
        ) from None
    except ValueError:  # not JSON, or not UTF-8
        raise SecretsManagerError("GetSecretValue answered something other than JSON") from None

    secret_string = reply.get("SecretString") if isinstance(reply, dict) else None
    if not isinstance(secret_string, str):
        raise SecretsManagerError(
            "the reply has no SecretString (binary secrets are not supported)"
        )
    try:
        value = json.loads(secret_string)
    except ValueError:
        raise SecretsManagerError("the secret's SecretString is not JSON") from None
    if not isinstance(value, dict):
        raise SecretsManagerError("the secret's SecretString is not a JSON object")
    return value


# A SecretString holds at most 65,536 bytes
# (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_SecretValueEntry.html);
# a reply far larger is not Secrets Manager's.
MAX_REPLY_BYTES = 1024 * 1024


def _read_within(response: Any, ends: float) -> bytes:
    """The reply's body, read by chunks; TimeoutError past `ends`, refused past the cap."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > ends:
            raise TimeoutError("the reply took longer than the timeout")
        chunk = response.read1(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise SecretsManagerError("GetSecretValue answered more than any secret can hold")
        chunks.append(chunk)


def _aws_error(exc: urllib.error.HTTPError) -> str:
    """`HTTP 400 ResourceNotFoundException: ...` from an AWS JSON error body."""
    try:
        error = json.loads(exc.read() or b"{}")
    except (ValueError, OSError, http.client.HTTPException):
        error = {}
    if not isinstance(error, dict):  # a proxy's or load balancer's page, not AWS's JSON
        error = {}
    kind = str(error.get("__type", "")).rsplit("#", 1)[-1] or str(exc.reason)
    message = error.get("message") or error.get("Message") or ""
    return f"HTTP {exc.code} {kind}: {message}"[:300].rstrip(": ")


# -- database URL ------------------------------------------------------------------------


class _SecretSettings(Protocol):
    # Read-only members: the settings object is frozen.
    @property
    def database_secret_arn(self) -> str | None: ...
    @property
    def db_host(self) -> str | None: ...
    @property
    def aws_region(self) -> str | None: ...
    @property
    def aws_access_key_id(self) -> str | None: ...
    @property
    def aws_secret_access_key(self) -> str | None: ...
    @property
    def aws_session_token(self) -> str | None: ...


def database_url_from_secret(
    settings: _SecretSettings, *, endpoint: str | None = None, timeout: float = 5.0
) -> str:
    """A SQLAlchemy URL built from the RDS-format secret named by the settings.

    The secret holds `username`, `password`, `host`, `port` and `dbname` (what RDS and the
    stack's generated secret contain). An optional `db_host` setting replaces the host: an
    RDS Proxy endpoint differs from the cluster endpoint the secret records.
    """
    if not settings.database_secret_arn:
        raise SecretsManagerError("DATABASE_SECRET_ARN is not set")
    if not (settings.aws_access_key_id and settings.aws_secret_access_key):
        raise SecretsManagerError("no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    secret = get_secret_json(
        settings.database_secret_arn,
        credentials=Credentials(
            settings.aws_access_key_id, settings.aws_secret_access_key, settings.aws_session_token
        ),
        region=settings.aws_region,
        endpoint=endpoint,
        timeout=timeout,
    )
    return url_from_secret(secret, host=settings.db_host)


def url_from_secret(secret: Mapping[str, Any], *, host: str | None = None) -> str:
    """`postgresql+psycopg2://user:password@host:port/dbname`, every part percent-encoded."""
    missing = [key for key in ("username", "password") if not secret.get(key)]
    host = host or secret.get("host")
    if not host:
        missing.append("host")
    if missing:
        raise SecretsManagerError(f"the database secret lacks {', '.join(missing)}")

    def quote(value: object) -> str:
        return urllib.parse.quote(str(value), safe="")

    port = secret.get("port") or 5432
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536 or isinstance(secret.get("port"), bool):
        raise SecretsManagerError("the database secret's port is not a port number")
    if not isinstance(host, str) or any(c in host for c in "/@?#") or not host.isprintable():
        raise SecretsManagerError("the database secret's host is not a host name")
    dbname = secret.get("dbname") or "postgres"
    return (
        f"postgresql+psycopg2://{quote(secret['username'])}:{quote(secret['password'])}"
        f"@{host}:{port}/{quote(dbname)}"
    )
