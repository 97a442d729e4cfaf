"""S3 event notifications for the drain function: which buckets got an outbox message.

S3 invokes the function asynchronously, with one or more records shaped as documented in
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
(object keys arrive URL-encoded, spaces as "+"). When a notification configuration is saved,
S3 sends an `s3:TestEvent` without records: nothing to drain, and no error (an error would
make Lambda retry it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from app.fallback.outbox import PREFIX


class NotAnS3EventError(ValueError):
    """The event is neither an S3 event notification nor S3's test event."""


def outbox_buckets(event: Any) -> set[str]:
    """The buckets named by `event`'s ObjectCreated records under the outbox prefix."""
    if not isinstance(event, dict):
        raise NotAnS3EventError("the drain expects an S3 event notification (a JSON object)")
    if event.get("Event") == "s3:TestEvent":
        return set()
    records = event.get("Records")
    if not isinstance(records, list):
        raise NotAnS3EventError("the drain expects an S3 event notification with Records")
    buckets: set[str] = set()
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            raise NotAnS3EventError("a record that is not from S3 (eventSource aws:s3)")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3")
        try:
            bucket = s3["bucket"]["name"]  # type: ignore[index]
            key = unquote_plus(s3["object"]["key"])  # type: ignore[index]
        except (KeyError, TypeError) as error:
            raise NotAnS3EventError(
                "an S3 record without s3.bucket.name and s3.object.key"
            ) from error
        if isinstance(bucket, str) and bucket and key.startswith(PREFIX):
            buckets.add(bucket)
    return buckets
