"""Admin authentication: a bearer token checked against its configured SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def token_matches(token: str, expected_sha256_hex: str) -> bool:
    """Compare digests in constant time, so the answer time tells nothing about the token."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
    return hmac.compare_digest(digest, expected_sha256_hex)


def _bearer(request: Request) -> tuple[bool, str]:
    """Whether the request speaks the Bearer scheme (RFC 6750; names are case-insensitive,
    RFC 9110 11.1), and its token."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer", token.strip()


def is_admin_attempt(request: Request) -> bool:
    """Only a Bearer credential asks for the admin's view. Any other scheme (HTTP Basic in
    front of a staging site, a proxy's own credentials) is not addressed to this API, and a
    public route answers it as it answers anyone."""
    return _bearer(request)[0]


async def require_admin(request: Request) -> None:
    """Dependency of every admin route: 503 when no token is configured (never open), else 401.

    async so that FastAPI does not run it in the threadpool (see app/data/db.py).
    """
    expected: str | None = request.app.state.settings.admin_token_sha256
    if expected is None:
        raise HTTPException(503, "admin access is not configured")
    bearer, token = _bearer(request)
    if not bearer or not token:
        raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
    if not token_matches(token, expected):
        raise HTTPException(401, "invalid bearer token", headers=_CHALLENGE)


Admin = Annotated[None, Depends(require_admin)]
