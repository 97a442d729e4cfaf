"""Lambda entry points: `handler.handler` serves the API, `handler.migrate` runs migrations,
`handler.drain` moves the contact outbox into the database.

Module scope runs once per execution environment, during Lambda's INIT phase: settings are
validated, the app is built and its lifespan started, so the first request pays for none of it
again. A bad variable stops the API's INIT with a message naming it; `handler.migrate` must
instead still answer CloudFormation (see `migrate`), so the module imports regardless and only
the lookup of `handler.handler` fails.
"""

from __future__ import annotations

import atexit
import gc
import signal
import sys
from typing import Any

from app.hosts import startup_gc

# Before any heavy import: no garbage collection during INIT (app/hosts/startup_gc.py).
startup_gc.pause()

# FastAPI imports pydantic.v1 only to check whether a route uses v1 models, and treats an
# ImportError as "no". None of ours do: marking it absent saves ~13 ms and ~1.7 MB at INIT.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]

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
    engine = None
    if settings.aws_lambda_runtime_api:
        # Inside a Lambda runtime the engine comes first and connects in a background thread
        # while the rest of the app (FastAPI above all) is imported: INIT never waits on the
        # database, and the first request finds the connection open (app/data/warmup.py).
        # One pooled connection, as LambdaAdapter sizes it (one event at a time). SIGTERM is
        # blocked first: every thread must inherit the mask (see exit_on_sigterm).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        from app.data import warmup
        from app.engine import engine_for

        engine = engine_for(settings.model_copy(update={"db_pool_size": 1}))
        warmup.start(engine, carry=settings.fallback_bucket is not None)
    from app.hosts.lambda_host import LambdaAdapter

    adapter = LambdaAdapter(settings, engine=engine)
    atexit.register(adapter.shutdown)


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


def drain(event: Any, context: Any) -> dict[str, Any]:
    """The outbox drain, for S3 event notifications on the fallback bucket's outbox/ prefix
    (docs/paused-database.md). With invalid settings it raises: Lambda retries the event."""
    if invalid_settings is not None:
        raise invalid_settings
    return adapter.drain(event, context)


# Only inside a Lambda runtime, never in tests or scripts; with invalid settings there is no
# engine to dispose. Then INIT ends: what it built is frozen and the collector runs again
# (app/hosts/startup_gc.py). Elsewhere the collector is only switched back on: freezing there
# would pin whatever the importing process holds.
if invalid_settings is None and settings.aws_lambda_runtime_api:
    from app.hosts.lambda_host import exit_on_sigterm

    exit_on_sigterm(adapter, settings.aws_lambda_runtime_api)
    startup_gc.resume()
else:
    gc.enable()
