"""AWS Signature Version 4 with the standard library only: the one signer of the project.

HMAC-SHA256 over a canonical form of the request, with a key derived from the secret access
key for one day, region and service. Used for the Secrets Manager call (app/aws/aws_secrets.py,
an Authorization header) and for RDS IAM auth tokens (app/aws/rds_auth.py, a presigned query
string). Checked against the published SigV4 test-suite vectors (tests/test_aws_secrets.py)
and against botocore's presigner (tests/test_rds_auth.py). Only hashlib, hmac and
urllib.parse: importing it costs next to nothing at cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    """The function's temporary credentials (Lambda sets them as AWS_* variables)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print the secret key
        return f"Credentials(access_key_id={self.access_key_id!r}, ...)"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret_access_key: str, datestamp: str, region: str, service: str) -> bytes:
    """Derive the day-, region- and service-scoped key from the secret access key."""
    key = _hmac(f"AWS4{secret_access_key}".encode(), datestamp)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = [
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(encoded))


def signature(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_hash: str,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    amz_date: str,
) -> tuple[str, str, str]:
    """(credential scope, signed header names, hex signature) of a request, every header signed.

    The query string of `url` is part of what is signed: a presigned URL (an RDS auth token)
    puts its `X-Amz-*` parameters there, except the signature itself.
    """
    parts = urllib.parse.urlsplit(url)
    canonical_headers = {
        name.lower().strip(): " ".join(value.split()) for name, value in headers.items()
    }
    signed_headers = ";".join(sorted(canonical_headers))
    canonical_request = "\n".join(
        [
            method.upper(),
            urllib.parse.quote(parts.path or "/", safe="/-_.~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{canonical_headers[name]}\n" for name in sorted(canonical_headers)),
            signed_headers,
            payload_hash,
        ]
    )
    datestamp = amz_date[:8]
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = signing_key(credentials.secret_access_key, datestamp, region, service)
    return scope, signed_headers, hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_hash: str,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """Return the Authorization header value for a request whose `headers` are all signed.

    `headers` must already hold `host` and `x-amz-date` (and `x-amz-security-token` when the
    credentials have a session token); `amz_date` is the same `YYYYMMDDTHHMMSSZ` timestamp.
    """
    scope, signed_headers, signature_hex = signature(
        method,
        url,
        headers,
        payload_hash,
        credentials=credentials,
        region=region,
        service=service,
        amz_date=amz_date,
    )
    return (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature_hex}"
    )
