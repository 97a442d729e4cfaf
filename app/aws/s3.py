"""A small Amazon S3 client: the object store behind the published snapshot and the outbox.

Four calls (GetObject, PutObject, DeleteObject, ListObjectsV2) over `http.client`, signed with
the project's own SigV4 signer (app/aws/sigv4.py). boto3 would cost ~320-430 ms and ~330 more
modules at cold start on this machine (measured, see docs/paused-database.md); this costs
next to nothing on top of what the app already imports.

Writes can carry S3's conditional headers, which is what keeps the snapshot monotonic and an
outbox message written once:
- `If-None-Match: *` writes only when no object has the key, `If-Match: <etag>` only when the
  object is unchanged; a failed condition is 412 Precondition Failed, and a concurrent
  conditional write of the same key may get 409 ConditionalRequestConflict (retry):
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
- Conditional requests need SigV4 or HTTPS (both here), and GET with `If-None-Match: <etag>`
  answers 304 when the object is unchanged:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
- S3 is strongly consistent for every read after a successful write, LIST included:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel

Inside the VPC the regional endpoint is reached through the S3 gateway endpoint (no NAT):
https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import re
import urllib.parse
from dataclasses import dataclass

from app.aws.sigv4 import EMPTY_SHA256, Credentials, sign
from app.fallback.store import PreconditionFailedError, StoredObject, StoreError
from app.settings import Settings

# The keys this project writes: lower-case ASCII, digits, '/', '.', '-', '_'. Nothing needs
# percent-encoding, so the URL path is the canonical URI SigV4 signs for S3 (encoded once).
_KEY = re.compile(r"^[a-z0-9][a-z0-9/._-]{0,200}$")


@dataclass(frozen=True)
class S3Store:
    """One bucket (an ObjectStore). `endpoint` replaces AWS's (tests: a local S3 server,
    path-style URLs)."""

    bucket: str
    region: str
    credentials: Credentials
    endpoint: str | None = None
    timeout: float = 2.0

    def _target(self, key: str, query: str = "") -> tuple[str, str, str]:
        """(scheme://host, path, host header) for `key` (empty: the bucket itself)."""
        if key and not _KEY.match(key):
            raise ValueError(f"unsupported object key {key!r}")
        if self.endpoint:
            parts = urllib.parse.urlsplit(self.endpoint)
            path = f"/{self.bucket}/{key}"
            base = f"{parts.scheme}://{parts.netloc}"
            host = parts.netloc
        else:
            # Virtual-hosted style on the regional endpoint (AWS's recommended form).
            host = f"{self.bucket}.s3.{self.region}.amazonaws.com"
            base, path = f"https://{host}", f"/{key}"
        return base, path + (f"?{query}" if query else ""), host

    def _request(
        self,
        method: str,
        key: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> tuple[int, dict[str, str], bytes]:
        base, path, host = self._target(key, query)
        signed = signed_headers(
            method,
            base + path,
            body,
            {"host": host, **(headers or {})},
            credentials=self.credentials,
            region=self.region,
            amz_date=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
        )
        scheme, _, netloc = base.partition("://")
        connection_class = (
            http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(netloc, timeout=self.timeout)
        try:
            connection.request(method, path, body=body or None, headers=signed)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        except (OSError, http.client.HTTPException) as error:
            raise StoreError(f"S3 {method} {key or self.bucket}: {type(error).__name__}") from None
        finally:
            connection.close()

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject | None:
        """The object, or None when there is none. With `if_none_match` (an ETag) and the
        object unchanged, a StoredObject with that ETag and an empty body (S3's 304)."""
        headers = {"if-none-match": if_none_match} if if_none_match else None
        status, response_headers, data = self._request("GET", key, headers=headers)
        if status == 404:
            return None
        if status == 304 and if_none_match:
            return StoredObject(b"", if_none_match)
        if status != 200:
            raise StoreError(f"S3 GET {key}: HTTP {status} {_error_code(data)}")
        return StoredObject(data, response_headers.get("etag", ""))

    def put(
        self, key: str, body: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        """Write `body`; return its new ETag. Conditional: `if_none_match` (create only) or
        `if_match` (replace only that version); a lost condition raises PreconditionFailedError."""
        if if_match and if_none_match:
            raise ValueError("one condition at a time")
        headers = {"content-type": "application/json"}
        if if_match:
            headers["if-match"] = if_match
        if if_none_match:
            headers["if-none-match"] = "*"
        status, response_headers, data = self._request("PUT", key, body=body, headers=headers)
        # 409: another conditional write of this key was in flight; it won or will win.
        if status in (412, 409):
            raise PreconditionFailedError(f"S3 PUT {key}: HTTP {status} {_error_code(data)}")
        if status != 200:
            raise StoreError(f"S3 PUT {key}: HTTP {status} {_error_code(data)}")
        return response_headers.get("etag", "")

    def delete(self, key: str) -> None:
        """Remove the object; removing one that is already gone succeeds (S3 answers 204)."""
        status, _, data = self._request("DELETE", key)
        if status not in (200, 204, 404):
            raise StoreError(f"S3 DELETE {key}: HTTP {status} {_error_code(data)}")

    def list(self, prefix: str, *, limit: int = 1000) -> list[str]:
        """Keys under `prefix`, in key order, at most `limit` (one ListObjectsV2 page)."""
        query = urllib.parse.urlencode(
            {"list-type": "2", "max-keys": str(min(limit, 1000)), "prefix": prefix},
            quote_via=urllib.parse.quote,
        )
        status, _, data = self._request("GET", "", query=query)
        if status != 200:
            raise StoreError(f"S3 LIST {prefix}: HTTP {status} {_error_code(data)}")
        # The keys are this project's own (no XML escapes possible in them): a pattern is
        # enough, and no XML parser is imported.
        return [match.decode() for match in re.findall(rb"<Key>([a-z0-9/._-]+)</Key>", data)]


def signed_headers(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    credentials: Credentials,
    region: str,
    amz_date: str,
) -> dict[str, str]:
    """`headers` (host included) plus S3's SigV4 headers: date, payload hash, token, signature.

    S3 wants the payload's SHA-256 in x-amz-content-sha256 and signs it like any header:
    https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
    """
    payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    signed = {
        **{name.lower(): value for name, value in headers.items()},
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
    }
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    signed["authorization"] = sign(
        method,
        url,
        signed,
        payload_hash,
        credentials=credentials,
        region=region,
        service="s3",
        amz_date=amz_date,
    )
    return signed


def _error_code(data: bytes) -> str:
    """The `<Code>` of an S3 XML error body (never its message: it may echo the key)."""
    match = re.search(rb"<Code>([A-Za-z]+)</Code>", data)
    return match.group(1).decode() if match else ""


def store_from_settings(settings: Settings) -> S3Store | None:
    """The fallback bucket with the function's credentials; None when none is configured."""
    if not settings.fallback_bucket:
        return None
    if not (settings.aws_region and settings.aws_access_key_id and settings.aws_secret_access_key):
        raise ValueError("FALLBACK_BUCKET needs AWS_REGION and the function's AWS credentials")
    return S3Store(
        settings.fallback_bucket,
        settings.aws_region,
        Credentials(
            settings.aws_access_key_id, settings.aws_secret_access_key, settings.aws_session_token
        ),
        endpoint=settings.aws_endpoint_url_s3,
    )
