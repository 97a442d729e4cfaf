"""Answer CloudFormation custom-resource events with the standard library only.

The stack runs the migration function as a custom resource on every deploy that changes it.
CloudFormation then waits until the function PUTs a JSON verdict to the event's pre-signed
S3 `ResponseURL` (the `cfn-response` protocol); a function that never answers (one that times
out, say) leaves the stack waiting until the resource's ServiceTimeout. `serve` therefore
answers FAILED itself when the work has not finished shortly before the invocation's end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

# Named, not __name__: the logger name is part of the JSON log lines and stayed the same when
# the module moved into app/aws/.
logger = logging.getLogger("app.custom_resource")

Status = Literal["SUCCESS", "FAILED"]
REQUEST_TYPES = frozenset({"Create", "Update", "Delete"})
# CloudFormation rejects response bodies over 4096 bytes (the whole JSON document).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
MAX_RESPONSE_BYTES = 4096
# Kept back from the invocation's remaining time to send the verdict: two attempts of 5 s with
# a 1 s pause fit. Every reply (SUCCESS, FAILED, late FAILED) has that budget, and no attempt
# runs past the invocation's end (see `respond`).
REPLY_RESERVE_S = 15.0
REPLY_ATTEMPTS, REPLY_TIMEOUT_S = 2, 5.0
# An attempt with less time than this left is not started: it could only time out.
_SHORTEST_ATTEMPT_S = 0.5
Result = TypeVar("Result")
# `work(deadline, claim)`: claim() before committing anything; False means FAILED was sent.
Work = Callable[[float, Callable[[], bool]], Result]


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
    return _fit(body)


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _fit(body: dict[str, Any]) -> bytes:
    """Shorten the Reason, then the longest Data values, until the reply fits.

    Ids must be echoed as they are, and a Data key that disappears breaks the stack's
    `!GetAtt` on it, so values are cut (marked with "...") rather than dropped. Lengths are
    counted in encoded bytes: escapes and UTF-8 make a character up to six.
    """
    encoded = _encode(body)
    while len(encoded) > MAX_RESPONSE_BYTES:
        excess = len(encoded) - MAX_RESPONSE_BYTES
        reason = body["Reason"]
        values = {k: v for k, v in body["Data"].items() if len(v) > 64}
        if len(reason) > 256:
            body["Reason"] = _cut(reason, max(256, len(reason) - excess))
        elif values:
            key = max(values, key=lambda k: len(values[k]))
            body["Data"][key] = _cut(values[key], max(64, len(values[key]) - excess))
        elif len(reason) > 32:
            body["Reason"] = _cut(reason, 32)
        else:  # only the ids are left, and CloudFormation caps those well below the limit
            raise ValueError("custom resource reply cannot fit in 4096 bytes")
        encoded = _encode(body)
    return encoded


def _cut(text: str, length: int) -> str:
    """`text` shortened to at most `length` characters, the cut marked."""
    return text if len(text) <= length else text[: max(0, length - 3)] + "..."


def work_budget(remaining_ms: int) -> float:
    """Seconds the work may take so that a FAILED can still be sent before the timeout.

    Above 30 s remaining, REPLY_RESERVE_S is kept back; below, half of what remains.
    """
    remaining = max(0.0, remaining_ms / 1000)
    return max(remaining - REPLY_RESERVE_S, remaining / 2)


def serve(
    event: Mapping[str, Any],
    context: Any,
    work: Work[Result],
    summary: Callable[[Result], Mapping[str, Any]],
) -> Result | dict[str, str]:
    """Run `work` for a Create or Update and answer CloudFormation exactly once.

    `work(deadline, claim)` receives its deadline (a `time.monotonic()` value) to bound all of
    its waits, and `claim`, which it must call right before it commits anything: True means
    the answer is now the work's own (SUCCESS once it returns, FAILED if it raises); False
    means FAILED was already sent, and the work must roll back. So CloudFormation is never
    told FAILED about a change that was then made. A Delete is answered SUCCESS without
    running anything. `summary` turns the result into the reply's Data. Errors are returned,
    not raised: CloudFormation invokes asynchronously, and Lambda would retry a raised error
    (the template also sets retries to 0).
    """
    if event["RequestType"] == "Delete":
        respond(event, context, "SUCCESS")
        return {"deleted": "nothing changed"}
    budget = work_budget(context.get_remaining_time_in_millis())
    answered = threading.Lock()  # whoever takes it first answers

    def claim() -> bool:
        return answered.acquire(blocking=False)

    def late() -> None:
        if not claim():
            return
        reason = f"did not finish within {budget:.0f} s (the function's timeout is near)"
        logger.error("custom resource %s %s", event["LogicalResourceId"], reason)
        # respond() logs a failure to send; nothing more can be done from here.
        with contextlib.suppress(OSError):
            respond(event, context, "FAILED", None, reason)

    timer = threading.Timer(budget, late)
    timer.daemon = True
    timer.start()
    claimed_by_work = False

    def claim_for_work() -> bool:
        nonlocal claimed_by_work
        claimed_by_work = claimed_by_work or claim()
        return claimed_by_work

    try:
        result = work(time.monotonic() + budget, claim_for_work)
    except Exception as error:
        timer.cancel()
        logger.exception("custom resource %s failed", event["LogicalResourceId"])
        reason = f"{type(error).__name__}: {error}"
        if claimed_by_work or claim():
            respond(event, context, "FAILED", None, reason)
        return {"error": reason}
    timer.cancel()
    if claimed_by_work or claim():
        respond(event, context, "SUCCESS", summary(result))
    else:
        logger.warning(
            "custom resource %s finished after FAILED was sent", event["LogicalResourceId"]
        )
    return result


def is_rollback(event: Mapping[str, Any], key: str, running: str) -> bool:
    """True for an Update that takes the resource back to properties older than this code.

    CloudFormation rolls a failed update back by sending the custom resource another Update,
    with the previous template's values as `ResourceProperties` and the failed ones as
    `OldResourceProperties`
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html);
    it does so before rolling back the function the resource depends on, so the code that
    receives it is still the new one (an unqualified ServiceToken runs $LATEST). `key` names
    the property that says which code a template was written for: a rollback is an Update
    whose old value is `running` (the deploy being undone was this code's) and whose new
    value is another.
    """
    if event.get("RequestType") != "Update":
        return False
    new = event.get("ResourceProperties") or {}
    old = event.get("OldResourceProperties") or {}
    if not isinstance(new, Mapping) or not isinstance(old, Mapping):
        return False
    return old.get(key) == running and new.get(key) not in (None, running)


def acknowledge(
    event: Mapping[str, Any], context: Any, data: Mapping[str, Any], reason: str
) -> dict[str, str]:
    """Answer SUCCESS without running anything (a rollback this code must not act on)."""
    logger.warning("custom resource %s: %s", event["LogicalResourceId"], reason)
    respond(event, context, "SUCCESS", data, reason)
    return {"skipped": reason}


def refuse(event: Mapping[str, Any], context: Any, reason: str) -> dict[str, str]:
    """Answer without running anything: FAILED with `reason`, but a Delete SUCCESS.

    For a function that cannot work at all (invalid settings): its Create or Update fails the
    deploy, while deleting the resource, which never touches the database, still succeeds, so
    a stack holding a bad value can roll back and be deleted. `reason` must name what is wrong
    without echoing values (it appears in the stack's events).
    """
    if event["RequestType"] == "Delete":
        respond(event, context, "SUCCESS")
        return {"deleted": "nothing changed"}
    logger.error("custom resource %s refused: %s", event["LogicalResourceId"], reason)
    respond(event, context, "FAILED", None, reason)
    return {"error": reason}


def respond(
    event: Mapping[str, Any],
    context: Any,
    status: Status,
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
    *,
    physical_id: str | None = None,
    attempts: int = REPLY_ATTEMPTS,
    timeout: float = REPLY_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PUT the verdict to the event's ResponseURL, retrying transient failures.

    At most `attempts` attempts of `timeout` seconds each, with a pause of 1 s, then 2 s,
    ... between them, none started or run past the invocation's end (`context`'s remaining
    time, when it has one). Raises the last error when every attempt fails: the caller's
    log then says why the stack is still waiting.
    """
    body = response_body(
        event, status, data, reason, physical_id, getattr(context, "log_stream_name", None)
    )
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    ends = time.monotonic() + remaining() / 1000 if callable(remaining) else None
    # Pre-signed URLs may sign the Content-Type: send it empty, as the URL was signed.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    last_error: Exception | None = None
    for attempt in range(1, attempts + 1):
        this_timeout = timeout if ends is None else min(timeout, ends - time.monotonic())
        if this_timeout < _SHORTEST_ATTEMPT_S:
            last_error = last_error or TimeoutError("no time left to answer CloudFormation")
            break
        request = urllib.request.Request(
            event["ResponseURL"], data=body, headers=headers, method="PUT"
        )
        try:
            with urllib.request.urlopen(request, timeout=this_timeout) as reply:
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
            pause = float(min(2 ** (attempt - 1), 4))
            if ends is not None and time.monotonic() + pause + _SHORTEST_ATTEMPT_S > ends:
                break
            sleep(pause)
    logger.error("could not answer custom resource %s: %s", event["LogicalResourceId"], last_error)
    assert last_error is not None
    raise last_error
