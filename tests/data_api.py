"""A stand-in for the RDS Data API (no AWS account exists here), executing on real PostgreSQL.

It speaks the wire protocol botocore's `rds-data` client uses (POST /Execute, JSON in and out,
errors named by the `x-amzn-ErrorType` header), checks that the request names the cluster and
secret it was told about and is SigV4-signed, and runs the SQL as the "master user" it was given,
one statement per call, committed, as the Data API does without a transaction id.
https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import psycopg2

from tests.support import http_server


@dataclass
class DataApi:
    """What the stand-in serves and what it received."""

    cluster_arn: str
    secret_arn: str
    # libpq connection string of the master user, without dbname (the request names it).
    master_dsn: str
    statements: list[str] = field(default_factory=list)
    # Answer this many calls with DatabaseResumingException first (a paused cluster).
    resuming: int = 0
    url: str = ""

    def execute(self, request: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
        if request.get("resourceArn") != self.cluster_arn:
            return 400, "BadRequestException", {"message": "unknown resourceArn"}
        if request.get("secretArn") != self.secret_arn:
            return 403, "AccessDeniedException", {"message": "not allowed to read that secret"}
        if self.resuming > 0:
            self.resuming -= 1
            return 400, "DatabaseResumingException", {"message": "the database is resuming"}
        self.statements.append(request["sql"])
        connection = psycopg2.connect(f"{self.master_dsn} dbname={request['database']}")
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(request["sql"])
                updated = max(cursor.rowcount, 0)
        except psycopg2.Error as error:
            return 400, "DatabaseErrorException", {"message": str(error).strip()}
        finally:
            connection.close()
        return 200, "", {"numberOfRecordsUpdated": updated, "generatedFields": []}


@contextlib.contextmanager
def data_api(api: DataApi) -> Iterator[DataApi]:
    """Serve `api` on a loopback port; `api.url` is the endpoint to give botocore."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/Execute":
                status, error, reply = 404, "NotFoundException", {"message": self.path}
            elif not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                status, error, reply = 403, "ForbiddenException", {"message": "unsigned"}
            else:
                status, error, reply = api.execute(body)
            encoded = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

    with http_server(Handler) as address:
        api.url = f"http://{address}"
        yield api
