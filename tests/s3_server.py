"""A real local S3 server for the suite: moto's (PyPI `moto[server]`), on a free port.

The service talks to it with its own client (app/aws/s3.py) over HTTP, SigV4 signing
included; only the endpoint differs from AWS. Buckets are made with boto3, as a user would.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from app.aws.s3 import S3Store
from app.aws.sigv4 import Credentials

REGION = "us-east-1"
# moto accepts any credentials; these are never real ones.
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


@dataclass(frozen=True)
class Bucket:
    name: str
    store: S3Store
    settings: dict[str, str]


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def bucket(self) -> Bucket:
        """A new, empty bucket with the service's client and settings for it."""
        name = self.new_bucket()
        store = S3Store(name, REGION, Credentials(ACCESS_KEY, SECRET_KEY), endpoint=self.endpoint)
        return Bucket(name, store, self.settings(name))

    def new_bucket(self) -> str:
        import boto3

        name = f"portfolio-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        ).create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str) -> dict[str, str]:
        """The Settings fields (lower-case) that point the service at `bucket` here."""
        return {
            "fallback_bucket": bucket,
            "aws_endpoint_url_s3": self.endpoint,
            "aws_region": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }


# For a client whose database is up: the read budget (DB_READ_BUDGET_MS, 250 ms by default) is
# not what its test looks at, and a busy machine (two test workers, CI) can take longer than
# that to answer, which would send the read to the snapshot and fail the test by chance.
AWAKE = {"db_read_budget_ms": "5000"}

@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    # One line per request on stderr otherwise (werkzeug's access log).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
