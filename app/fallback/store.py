"""What the service needs from an object store, and the errors it understands.

The service is given an ObjectStore (app/aws/s3.py is the one for AWS); it never builds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class StoreError(RuntimeError):
    """The store answered with an error or could not be reached."""


class PreconditionFailedError(StoreError):
    """A conditional write lost: the object exists (create-only) or changed (replace-if)."""


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes and its ETag; an empty body with `if_none_match`'s ETag: unchanged."""

    body: bytes
    etag: str


class ObjectStore(Protocol):
    """Get, conditionally put, delete and list objects of one bucket."""

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject | None: ...

    def put(
        self, key: str, body: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str, *, limit: int = 1000) -> list[str]: ...
