"""The API as a Lambda function: Mangum around the app, with a lifespan that spans INIT.

Mangum runs with lifespan="off" because its "auto" mode starts and stops the lifespan (and
with it the engine and its connection) on every invocation. Here the lifespan starts when
the adapter is built, during INIT, and ends on `shutdown()` (SIGTERM or interpreter exit).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mangum import Mangum
from mangum.protocols import LifespanCycle

from app.aws import lambda_events
from app.aws.s3 import store_from_settings
from app.main import create_app
from app.settings import Settings

logger = logging.getLogger("app.lambda")


class LambdaAdapter:
    """One per execution environment: `handle` serves events, `migrate` runs migrations."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One event at a time per execution environment: one pooled connection is enough.
        self.app = create_app(
            settings.model_copy(update={"db_pool_size": 1}), store=store_from_settings(settings)
        )
        self._mangum = Mangum(self.app, lifespan="off")  # also sets up the event loop
        self._lifespan = LifespanCycle(self.app, "on")
        self._lifespan.__enter__()
        self._running = True
        self._mangum.app = lambda_events.LambdaScope(
            self.app, self._lifespan.lifespan_state, settings.api_base_path
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
            return lambda_events.rejection(status, reason)
        with self._busy:
            return self._mangum(event, context)

    def migrate(self, event: Any, context: Any) -> dict[str, Any]:
        """Upgrade the schema to head under the advisory lock; report what was applied.

        A CloudFormation custom-resource event (the stack runs migrations on every deploy)
        is answered at its ResponseURL whatever happens, since CloudFormation would otherwise
        wait out its timeout; deleting the resource leaves the database alone.
        """
        from app.aws import custom_resource, metrics
        from app.data import db_limits
        from app.data.migrate import migrate
        from app.fallback import outbox, snapshot
        from app.fallback.service import Fallback

        def run(deadline: float) -> dict[str, Any]:
            # `deadline` (time.monotonic()) is when custom_resource.serve answers FAILED on
            # its own (0.0: none); connection retries (a resuming Aurora) end before it, and
            # before the invocation's own end.
            ends = [d for d in (deadline or None, db_limits.deadline_of(context)) if d]
            with self._busy:
                result = migrate(self.state["engine"], connect_deadline=min(ends, default=None))
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
                        engine, fallback.store, metrics.for_app(self.app), self.settings
                    )
                return result

        if not custom_resource.is_custom_resource_event(event):
            return run(0.0)
        return custom_resource.serve(
            event,
            context,
            run,
            lambda r: {"Current": r["current"] or "", "Applied": ",".join(r["applied"])},
        )

    def shutdown(self) -> None:
        """Run the lifespan's shutdown (disposing the engine) once, after any running call."""
        with self._busy:
            if self._running:
                self._running = False
                self._lifespan.__exit__(None, None, None)
