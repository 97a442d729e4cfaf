"""Log records as one JSON object per line, for the HTTP host (Lambda has its own format).

CloudWatch Logs (the awslogs driver on ECS) keeps each line as one event and can filter on
its fields (`{ $.status = 503 }`); a traceback stays inside its record's `exception` field
instead of spreading over many events.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from app.settings import Settings

# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra fields}`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def configure(settings: Settings) -> None:
    """JSON lines on stderr at LOG_LEVEL for every logger (uvicorn's included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # The app's AccessLog middleware writes the access log (with duration and status);
    # uvicorn's own would be a second, poorer line per request.
    logging.getLogger("uvicorn.access").disabled = True
