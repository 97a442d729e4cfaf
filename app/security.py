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


async def require_admin(request: Request) -> None:
    """Dependency of every admin route: 503 when no token is configured (never open), else 401.

    async so that FastAPI does not run it in the threadpool (see app/data/db.py).
    """
    expected: str | None = request.app.state.settings.admin_token_sha256
    if expected is None:
        raise HTTPException(503, "admin access is not configured")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
    if not token_matches(token.strip(), expected):
        raise HTTPException(401, "invalid bearer token", headers=_CHALLENGE)


Admin = Annotated[None, Depends(require_admin)]
