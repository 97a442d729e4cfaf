"""Counters as CloudWatch Embedded Metric Format (EMF) lines on standard output.

CloudWatch Logs turns each such line in the function's log into a metric data point: no API
call, no SDK, no network path out of the VPC, no latency added to the request. Alarms on
these metrics are in template.yaml (tests/sam/ checks that their namespace, names and
dimensions are the ones emitted here).

- Lambda sends what the function writes to stdout to CloudWatch Logs, which extracts EMF:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html
- The document: one JSON object per log event, `_aws.Timestamp` (ms since the epoch),
  `_aws.CloudWatchMetrics[].{Namespace, Dimensions, Metrics}`, each dimension and metric a
  root member:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
- Written straight to stdout, not through `logging`: with Lambda's JSON log format the Python
  runtime writes `print`-style output as it is (plain text), so the line stays a top-level
  JSON object that EMF recognises, in either log format:
  https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html

Nothing from a request goes into a metric: names and the function name only.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Final, TextIO

# The names are the service's (re-exported here for the tests and template checks).
from app.counters import (  # noqa: F401
    CONTACT_HONEYPOT,
    CONTACT_MESSAGE_RECEIVED,
    CONTACT_RATE_LIMITED,
    DATABASE_UNAVAILABLE,
    NAMES,
)

NAMESPACE: Final = "PortfolioBackend"
DIMENSION: Final = "FunctionName"
# Outside Lambda there is no function name; the dimension still needs a value.
LOCAL_FUNCTION: Final = "local"


class Metrics:
    """Emits counters for one function; `stream` is stdout unless a test passes another."""

    def __init__(self, function_name: str | None, stream: TextIO | None = None) -> None:
        self.function_name = function_name or LOCAL_FUNCTION
        self.stream = stream

    def document(self, name: str, value: float = 1) -> dict[str, object]:
        """The EMF document for one data point of `name`."""
        if name not in NAMES:
            raise ValueError(f"unknown metric {name!r}")
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [[DIMENSION]],
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }
                ],
            },
            DIMENSION: self.function_name,
            name: value,
        }

    def count(self, name: str, value: float = 1) -> None:
        """Write one data point as a single line (one log event) and flush it at once."""
        stream = self.stream or sys.stdout
        stream.write(json.dumps(self.document(name, value), separators=(",", ":")) + "\n")
        stream.flush()
