"""Answer CloudFormation custom-resource events with the standard library only.

The stack runs the migration function as a custom resource on every deploy that changes it.
CloudFormation then waits until the function PUTs a JSON verdict to the event's pre-signed
S3 `ResponseURL` (the `cfn-response` protocol); a function that never answers leaves the
stack waiting until the resource's ServiceTimeout.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Literal

logger = logging.getLogger(__name__)

Status = Literal["SUCCESS", "FAILED"]
REQUEST_TYPES = frozenset({"Create", "Update", "Delete"})
# CloudFormation rejects response bodies over 4096 bytes.
MAX_RESPONSE_BYTES = 4096


def is_custom_resource_event(event: object) -> bool:
    """True for a CloudFormation custom-resource request (Create, Update or Delete)."""
    return (
        isinstance(event, Mapping)
        and event.get("RequestType") in REQUEST_TYPES
        and isinstance(event.get("ResponseURL"), str)
        and "StackId" in event
        and "RequestId" in event
        and "LogicalResourceId" in event
    )


def physical_resource_id(event: Mapping[str, Any]) -> str:
    """Keep the id CloudFormation already has; a changed id would make it delete the old one."""
    existing = event.get("PhysicalResourceId")
    return (
        str(existing)
        if existing
        else f"{event['LogicalResourceId']}-{event['StackId'].rsplit('/', 1)[-1]}"
    )


def response_body(
    event: Mapping[str, Any],
    status: Status,
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
    physical_id: str | None = None,
    log_stream_name: str | None = None,
) -> bytes:
    """The JSON CloudFormation expects, shortened to fit its 4096-byte limit."""
    if status not in ("SUCCESS", "FAILED"):
        raise ValueError(f"status must be SUCCESS or FAILED, not {status!r}")
    default_reason = f"see CloudWatch log stream {log_stream_name}" if log_stream_name else status
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason or default_reason,
        "PhysicalResourceId": physical_id or physical_resource_id(event),
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        # Values are strings so that !GetAtt on them yields plain strings.
        "Data": {
            str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (data or {}).items()
        },
    }
    encoded = json.dumps(body).encode()
    if len(encoded) > MAX_RESPONSE_BYTES:
        body["Reason"] = body["Reason"][:512]
        encoded = json.dumps(body).encode()
    if len(encoded) > MAX_RESPONSE_BYTES:
        body["Data"] = {}
        body["Reason"] = body["Reason"][:400] + " (response data dropped: too large)"
        encoded = json.dumps(body).encode()
    return encoded


def respond(
    event: Mapping[str, Any],
    context: Any,
    status: Status,
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
    *,
    physical_id: str | None = None,
    attempts: int = 3,
    timeout: float = 10.0,
) -> None:
    """PUT the verdict to the event's ResponseURL, retrying transient failures.

    Raises the last error when every attempt fails: the caller's log then says why the stack
    is still waiting.
    """
    body = response_body(
        event, status, data, reason, physical_id, getattr(context, "log_stream_name", None)
    )
    # Pre-signed URLs may sign the Content-Type: send it empty, as the URL was signed.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    last_error: Exception | None = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            event["ResponseURL"], data=body, headers=headers, method="PUT"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                reply.read()
            logger.info(
                "custom resource %s answered %s (HTTP %s)",
                event["LogicalResourceId"],
                status,
                reply.status,
            )
            return
        except urllib.error.HTTPError as exc:
            last_error = exc
            if exc.code < 500:  # a refused signature or expired URL will not improve
                break
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last_error = exc
        if attempt < attempts:
            time.sleep(min(2 ** (attempt - 1), 4))
    logger.error("could not answer custom resource %s: %s", event["LogicalResourceId"], last_error)
    assert last_error is not None
    raise last_error
