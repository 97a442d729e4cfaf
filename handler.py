"""Lambda entry points: `handler.handler` serves the API, `handler.migrate` runs migrations.

Module scope runs once per execution environment, during Lambda's INIT phase: settings are
validated, the app is built and its lifespan started, so the first request pays for none of it
again. A bad variable stops the API's INIT with a message naming it; `handler.migrate` must
instead still answer CloudFormation (see `migrate`), so the module imports regardless and only
the lookup of `handler.handler` fails.
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
from app.settings import SettingsError, get_settings  # noqa: E402

try:
    settings = get_settings()
except SettingsError as error:
    # Raising here would stop INIT of the migrate function too, and a custom resource whose
    # function never answers keeps CloudFormation waiting until its ServiceTimeout.
    invalid_settings: SettingsError | None = error
else:
    invalid_settings = None
    configure_logging(settings)
    adapter = LambdaAdapter(settings)
    atexit.register(adapter.shutdown)
    if settings.aws_lambda_runtime_api:
        # The connection opens in the background while the first event is on its way; INIT
        # never waits on the database (app/data/warmup.py).
        from app.data import warmup

        warmup.start(adapter.state["engine"])


def _handler(event: Any, context: Any) -> dict[str, Any]:
    """The API, for API Gateway (REST, HTTP API 1.0/2.0), ALB and Function URL events."""
    return adapter.handle(event, context)


if invalid_settings is None:
    handler = _handler
else:
    refusal: SettingsError = invalid_settings

    def __getattr__(name: str) -> Any:
        # The runtime client looks the handler up after importing this module, and reports an
        # exception raised by the lookup as an INIT error: the API still refuses to start.
        if name == "handler":
            raise refusal
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def migrate(event: Any, context: Any) -> dict[str, Any]:
    """Alembic `upgrade head`; also answers CloudFormation custom-resource events.

    With invalid settings nothing runs: a Create or Update is answered FAILED with the
    variables' names (the deploy stops before the API function is updated, since it waits for
    the migration), a Delete SUCCESS so that a stack with a bad value can still roll back or be
    deleted. A plain invocation raises the error.
    """
    if invalid_settings is None:
        return adapter.migrate(event, context)
    from app.aws import custom_resource  # only the migrate path pays for urllib

    if not custom_resource.is_custom_resource_event(event):
        raise invalid_settings
    reason = str(invalid_settings)
    if "ADMIN_TOKEN_SHA256" in reason:  # where the stack takes it from: the usual mistake
        reason += (
            " (the stack reads it from the SSM parameter or secret named by its "
            "AdminTokenDigestName parameter: store the token's SHA-256 hex digest, not the token)"
        )
    return custom_resource.refuse(event, context, reason)


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


# Only inside a Lambda runtime, never in tests or scripts; with invalid settings there is no
# engine to dispose.
if invalid_settings is None and settings.aws_lambda_runtime_api:
    # Blocked before any thread starts, so that every thread inherits the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    threading.Thread(target=_exit_on_sigterm, name="sigterm", daemon=True).start()
    from app.aws import lambda_extension

    lambda_extension.register(settings.aws_lambda_runtime_api)
