"""Lambda entry points: `handler.handler` serves the API, `handler.migrate` runs migrations.

Module scope runs once per execution environment, during Lambda's INIT phase: settings are
validated (a bad variable stops INIT with a message naming it), the app is built and its
lifespan started, so the first request pays for none of it again.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from typing import Any

# FastAPI imports pydantic.v1 only to check whether a route uses v1 models, and treats an
# ImportError as "no". None of ours do: marking it absent saves ~13 ms and ~1.7 MB at INIT.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]

from app.aws.lambda_adapter import LambdaAdapter  # noqa: E402
from app.logging_setup import configure as configure_logging  # noqa: E402
from app.settings import get_settings  # noqa: E402

settings = get_settings()
configure_logging(settings)
adapter = LambdaAdapter(settings)
atexit.register(adapter.shutdown)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The API, for API Gateway (REST, HTTP API 1.0/2.0), ALB and Function URL events."""
    return adapter.handle(event, context)


def migrate(event: Any, context: Any) -> dict[str, Any]:
    """Alembic `upgrade head`; also answers CloudFormation custom-resource events."""
    return adapter.migrate(event, context)


def _exit_on_sigterm() -> None:
    # Lambda sends SIGTERM before it ends an environment, provided an extension is registered
    # (app/aws/lambda_extension.py registers one for that reason). The main thread is then blocked
    # inside the runtime client's C code, where a Python signal handler would not run until
    # the next event, so SIGTERM is blocked everywhere and this thread waits for it instead.
    signal.sigwait({signal.SIGTERM})
    adapter.shutdown()
    logging.getLogger("handler").info("SIGTERM: engine disposed, exiting")
    logging.shutdown()
    os._exit(0)


if settings.aws_lambda_runtime_api:  # only inside a Lambda runtime, never in tests or scripts
    # Blocked before any thread starts, so that every thread inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=_exit_on_sigterm, name="sigterm", daemon=True).start()
    from app.aws import lambda_extension

    lambda_extension.register(settings.aws_lambda_runtime_api)
