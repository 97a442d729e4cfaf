"""Lambda entry points: `handler.handler` serves the API, `handler.migrate` runs migrations.

Everything at module scope runs once per execution environment, during Lambda's INIT phase:
settings are validated (a bad variable stops INIT with a message naming it), the app is
built and its lifespan started. Mangum runs with lifespan="off" because its "auto" mode would
start and stop the lifespan (and with it the engine) on every invocation.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from typing import Any

from mangum import Mangum
from mangum.protocols import LifespanCycle

from app import lambda_events
from app.logging_setup import configure as configure_logging
from app.main import create_app
from app.settings import get_settings

logger = logging.getLogger("handler")

settings = get_settings()
configure_logging(settings)
app = create_app(settings)
_adapter = Mangum(app, lifespan="off")  # also sets up the event loop the lifespan uses
_lifespan = LifespanCycle(app, "on")
_lifespan.__enter__()
_adapter.app = lambda_events.LambdaScope(app, _lifespan.lifespan_state, settings.api_base_path)
# Held while a request runs, so shutdown waits for it instead of cutting a write in half.
_busy = threading.Lock()


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Serve one API Gateway / ALB / Function URL event."""
    problem = lambda_events.problem(event, context, _adapter)
    if problem is not None:
        logger.warning("rejected event: %s", problem,
                       extra={"lambda_request_id": getattr(context, "aws_request_id", None)})
        return lambda_events.bad_request(problem)
    with _busy:
        return _adapter(event, context)


def migrate(event: Any, context: Any) -> dict[str, Any]:
    """Upgrade the schema to head; also answers CloudFormation custom-resource events."""
    from app.migrate import migrate as run_migrations

    with _busy:
        result = run_migrations(_lifespan.lifespan_state["engine"])
    return result


def _shutdown() -> None:
    """Run the lifespan's shutdown (disposing the engine) once, after any running request."""
    global _lifespan_running
    with _busy:
        if _lifespan_running:
            _lifespan_running = False
            _lifespan.__exit__(None, None, None)


def _shutdown_on_sigterm() -> None:
    # Lambda sends SIGTERM before it ends an environment. The main thread is usually blocked
    # inside the runtime client's C code, where a Python signal handler would never run, so
    # SIGTERM is blocked everywhere and a dedicated thread waits for it instead.
    signal.sigwait({signal.SIGTERM})
    _shutdown()
    logger.info("SIGTERM: engine disposed, exiting")
    logging.shutdown()
    os._exit(0)


_lifespan_running = True
atexit.register(_shutdown)


if settings.aws_lambda_runtime_api:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=_shutdown_on_sigterm, name="sigterm", daemon=True).start()
