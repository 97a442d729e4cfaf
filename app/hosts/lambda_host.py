"""The Lambda host: Mangum around the app, with a lifespan that spans INIT.

Everything the service must not know about Lambda is here: event vetting (lambda_events),
the caller's address from requestContext or ALB's X-Forwarded-For, the deadline from the
invocation's remaining time, the custom-resource migrate path, and the SIGTERM that the
no-op extension (lambda_extension) makes Lambda send. The service reads only the two facts
this host writes into the scope (app/host_scope.py).

Mangum runs with lifespan="off" because its "auto" mode starts and stops the lifespan (and
with it the engine and its connection) on every invocation. Here the lifespan starts when
the adapter is built, during INIT, and ends on `shutdown()` (SIGTERM or interpreter exit).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from mangum import Mangum
from mangum.protocols import LifespanCycle
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app import host_scope
from app.aws.s3 import store_from_settings
from app.hosts import lambda_events
from app.main import create_app
from app.settings import Settings

logger = logging.getLogger("app.lambda")

# Kept back from the invocation's remaining time: enough to roll back, log and answer.
MARGIN_SECONDS = 1.0
# The migration custom resource's property naming the migrations head its template was
# written for (template.yaml, DatabaseMigration): how a rollback is told apart.
VERSION_PROPERTY = "MigrationsHead"


def deadline_of(context: Any) -> float | None:
    """The `time.monotonic()` by which work must end in this invocation (None: no context).

    A slow database then ends the request with a JSON 503 while the function still runs,
    instead of Lambda killing it and API Gateway answering with its own non-JSON error.
    """
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return time.monotonic() + float(remaining()) / 1000 - MARGIN_SECONDS


class LambdaScope:
    """ASGI wrapper: lifespan state, the base path as root_path, and the host's two facts."""

    def __init__(
        self, app: ASGIApp, state: dict[str, Any], api_base_path: str, xff_client_port: bool
    ) -> None:
        self.app = app
        self.state = state
        self.api_base_path = api_base_path
        self.xff_client_port = xff_client_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root_path, path = lambda_events.split_base_path(
                scope.get("aws.event") or {}, scope["path"], self.api_base_path
            )
            # ASGI convention (Starlette >= 0.33): `path` includes `root_path`.
            scope = {
                **scope,
                "state": dict(self.state),
                "root_path": root_path,
                "path": root_path + path,
                host_scope.CLIENT: host_scope.normalise(
                    lambda_events.source_address(scope, xff_client_port=self.xff_client_port)
                ),
                host_scope.DEADLINE: deadline_of(scope.get("aws.context")),
            }
        await self.app(scope, receive, send)


class LambdaAdapter:
    """One per execution environment: `handle` serves events, `migrate` runs migrations."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        """`engine`: one made (and maybe already connecting) before the app was imported."""
        self.settings = settings
        # One event at a time per execution environment: one pooled connection is enough.
        # The object store behind the fallback (docs/paused-database.md), when one is set.
        self.app = create_app(
            settings.model_copy(update={"db_pool_size": 1}),
            engine=engine,
            store=store_from_settings(settings),
        )
        self._mangum = Mangum(self.app, lifespan="off")  # also sets up the event loop
        self._lifespan = LifespanCycle(self.app, "on")
        self._lifespan.__enter__()
        self._running = True
        self._mangum.app = LambdaScope(
            self.app,
            self._lifespan.lifespan_state,
            settings.api_base_path,
            settings.xff_client_port,
        )
        # Held while an invocation runs, so shutdown waits for it instead of cutting it short.
        self._busy = threading.Lock()

    @property
    def state(self) -> dict[str, Any]:
        """What the lifespan yielded (the engine)."""
        return self._lifespan.lifespan_state

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        """Serve one API Gateway / ALB / Function URL event; a 4xx for anything else."""
        problem = lambda_events.problem(event, context, self._mangum)
        if problem is not None:
            status, reason = problem
            logger.warning(
                "rejected event: %d %s",
                status,
                reason,
                extra={"lambda_request_id": getattr(context, "aws_request_id", None)},
            )
            answer = lambda_events.rejection(status, reason)
            # Behind an ALB or a function URL nothing else adds CORS headers: without them a
            # site's script sees a network error instead of this answer.
            from app import cors  # a rare path: not imported at INIT

            origin = _origin(event)
            answer["headers"].update(
                cors.simple_response_headers(origin, self.settings.cors_origins)
            )
            return answer
        with self._busy:
            return self._mangum(event, context)

    def migrate(self, event: Any, context: Any) -> dict[str, Any]:
        """Upgrade the schema to head under the advisory lock; report what was applied.

        A CloudFormation custom-resource event (the stack runs migrations on every deploy)
        is answered at its ResponseURL whatever happens, since CloudFormation would otherwise
        wait out its timeout; deleting the resource leaves the database alone.
        """
        from app import counters
        from app.aws import custom_resource
        from app.data import db_limits
        from app.data.migrate import head_revision, migrate
        from app.fallback import outbox, snapshot
        from app.fallback.service import Fallback

        def run(deadline: float, claim: Callable[[], bool] | None = None) -> dict[str, Any]:
            # `deadline` (time.monotonic()) is when custom_resource.serve answers FAILED on
            # its own (0.0: none). The whole run ends by it: connection retries (a resuming
            # Aurora), the wait for the advisory lock and every statement; `claim` then keeps
            # a run that finishes after FAILED from committing. The COMMIT itself, once
            # claimed, is bounded by the invocation's end.
            invocation = deadline_of(context)
            ends = min([d for d in (deadline or None, invocation) if d], default=None)
            with self._busy, db_limits.deadline(invocation):
                result = migrate(
                    self.state["engine"], connect_deadline=ends, deadline=ends, may_commit=claim
                )
                fallback = Fallback.for_app(self.app)
                if fallback is not None:
                    # A new stack gets its snapshot here; a store the function cannot write
                    # (bucket, endpoint policy, IAM) fails the deploy instead of the first
                    # visit during a pause. Messages left in the outbox are moved in.
                    engine = self.state["engine"]
                    result["snapshot_revision"] = snapshot.publish(
                        engine, fallback.store, force=True
                    )
                    result["outbox_drained"] = outbox.drain(
                        engine, fallback.store, counters.for_app(self.app), self.settings
                    )
                return result

        if not custom_resource.is_custom_resource_event(event):
            return run(0.0)
        head = head_revision() or ""
        if custom_resource.is_rollback(event, VERSION_PROPERTY, head):
            # Upgrading (again) is not what a rollback asks for, and downgrading could destroy
            # data written since: the schema stays, and the old code meets a newer one, as
            # after any rolled-back deploy (migrations add, they do not take away). The old
            # template's head is reported as Current, as the old deploy did, so the API
            # function's configuration rolls back unchanged.
            previous = str(event["ResourceProperties"][VERSION_PROPERTY])
            return custom_resource.acknowledge(
                event,
                context,
                {"Current": previous, "Applied": ""},
                f"rollback to {VERSION_PROPERTY} {previous}: this code ({head}) migrates nothing",
            )
        return custom_resource.serve(
            event,
            context,
            run,
            lambda r: {"Current": r["current"] or "", "Applied": ",".join(r["applied"])},
        )

    def drain(self, event: Any, context: Any) -> dict[str, Any]:
        """Move the outbox into the database: the drain function, invoked by S3 when a
        contact message lands in the outbox (template.yaml, DrainFunction).

        Waits for the database within the invocation (a paused Aurora resumes in ~15 s, 30 s
        or more after a long pause), retrying connections like the migration does. If it is
        still away, the error fails the invocation and Lambda retries the event (asynchronous
        invocation: twice, about a minute then two minutes later,
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); the
        messages stay in the outbox meanwhile, and the next visit, admin read or deploy drains
        them too. Exactly once whoever drains: app/fallback/outbox.py.
        """
        from app import counters
        from app.data import db_limits
        from app.data.migrate import connect_patiently
        from app.fallback import outbox
        from app.hosts import s3_events

        buckets = s3_events.outbox_buckets(event)
        if self.settings.fallback_bucket:
            # Told its bucket: events naming any other are not its business.
            buckets &= {self.settings.fallback_bucket}
        # Otherwise (the template's drain function) the bucket comes from the event: naming it
        # in the function's configuration would close the dependency cycle between bucket,
        # notification and function; the role allows that one bucket only.
        if not buckets:
            return {"drained": 0}
        invocation = deadline_of(context)
        stored = 0
        with self._busy, db_limits.deadline(invocation):
            engine = self.state["engine"]
            try:
                connect_patiently(engine, invocation).close()
            except Exception as error:
                logger.warning("outbox not drained, database away: %s", type(error).__name__)
                raise  # Lambda retries the event
            for bucket in sorted(buckets):
                store = store_from_settings(
                    self.settings.model_copy(update={"fallback_bucket": bucket})
                )
                assert store is not None  # a bucket is named
                stored += outbox.drain(engine, store, counters.for_app(self.app), self.settings)
        logger.info("outbox drained: %d message(s) stored", stored)
        return {"drained": stored}

    def shutdown(self) -> None:
        """Run the lifespan's shutdown (disposing the engine) once, after any running call."""
        with self._busy:
            if self._running:
                self._running = False
                self._lifespan.__exit__(None, None, None)


def exit_on_sigterm(adapter: LambdaAdapter, runtime_api: str) -> None:
    """Inside a Lambda runtime: dispose of the engine and exit 0 when Lambda sends SIGTERM.

    Lambda sends SIGTERM before it ends an environment, provided an extension is registered
    (lambda_extension registers one for that reason). The main thread is then blocked inside
    the runtime client's C code, where a Python signal handler would not run until the next
    event, so SIGTERM is blocked everywhere and a thread waits for it instead. Call this
    before any other thread starts, so that every thread inherits the mask.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=_wait_for_sigterm, args=(adapter,), name="sigterm", daemon=True).start()
    from app.hosts import lambda_extension

    lambda_extension.register(runtime_api)


def _wait_for_sigterm(adapter: LambdaAdapter) -> None:
    signal.sigwait({signal.SIGTERM})
    adapter.shutdown()
    logging.getLogger("handler").info("SIGTERM: engine disposed, exiting")
    logging.shutdown()
    os._exit(0)


def _origin(event: Any) -> str | None:
    """The request's Origin header, if the event holds one as text (it may be malformed)."""
    if not isinstance(event, dict):
        return None
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "origin":
                last = value[-1] if isinstance(value, list) and value else value
                return last if isinstance(last, str) else None
    return None
