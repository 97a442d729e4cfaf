"""Logging set-up that respects the Lambda runtime's own handler and JSON format."""

from __future__ import annotations

import logging

from app.settings import Settings


def configure(settings: Settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        # Outside Lambda (dev server, tests, scripts): plain text to stderr.
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # awslambdaric installs its handler (text or JSON per AWS_LAMBDA_LOG_FORMAT) but leaves
    # the level at WARNING unless Lambda's log-level control is set; the access log is INFO.
    if settings.aws_lambda_log_level is None:
        root.setLevel(settings.log_level)
    # Mangum logs every request and lifespan step at INFO; our access log already does.
    logging.getLogger("mangum").setLevel(logging.WARNING)
