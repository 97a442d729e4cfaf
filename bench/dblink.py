"""The production-like database link of the bench: TLS verify-full, a network delay, IAM auth.

On AWS (template.yaml, DatabaseMode=create) the function reaches Aurora with RDS IAM
authentication (a token signed locally from its credentials, sent as the password), over TLS
with `verify-full` against the CA bundle in the image, one network hop away. Here:
- a TLS-only PostgreSQL whose certificate, for `localhost`, is signed by a CA the bench makes
  (tests/tls.py), so `verify-full` checks the chain and the host name as on AWS;
- a delay proxy (tests/delay_proxy.py) in front of it: 1 ms per round trip, counted;
- the function's own IAM path (DB_IAM_AUTH, DB_HOST/PORT/NAME/USER, AWS_REGION and the
  credentials Lambda gives every function). Credentials are fakes: nothing here can check a
  token, so the server trusts the connection; the function still computes the token (SigV4)
  at each connect, as on AWS.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.delay_proxy import DelayProxy, delay_proxy

ROUND_TRIP_S = 0.001
# Where the container sees the bench's CA (mounted read-only).
CA_IN_CONTAINER = "/opt/bench-ca/ca.pem"
SERVER_NAME = "localhost"
# A TLS-only server: encrypted connections from loopback, nothing else.
TLS_ONLY_HBA = (
    "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 0.0.0.0/0 reject\n"
)


@dataclass
class ProductionLink:
    """How a container reaches the production-like database, and the proxy that counts."""

    proxy: DelayProxy
    ca_dir: Path
    admin_url: str  # for the bench itself (migrate, seed): TLS, no delay
    env: dict[str, str] = field(default_factory=dict)

    @property
    def volumes(self) -> list[str]:
        return [f"{self.ca_dir}:{Path(CA_IN_CONTAINER).parent}:ro"]


def function_env(port: int) -> dict[str, str]:
    """The function's variables for the IAM path through the proxy (fake AWS credentials)."""
    return {
        "DB_IAM_AUTH": "true",
        "DB_HOST": SERVER_NAME,
        "DB_PORT": str(port),
        "DB_NAME": "postgres",
        "DB_USER": "postgres",
        "DB_SSLMODE": "verify-full",
        "DB_SSLROOTCERT": CA_IN_CONTAINER,
        "AWS_REGION": "us-east-1",
        # A fake of what Lambda puts in every function's environment (no AWS account here).
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench/secret/key/not/a/real/one/000000000",
        "AWS_SESSION_TOKEN": "bench-session-token",
    }


@contextlib.contextmanager
def production_link() -> Iterator[ProductionLink]:
    """Start the TLS-only cluster and the delay proxy; yield how to reach them."""
    from tests.postgres import throwaway_cluster
    from tests.tls import make_ca, make_server_cert

    ca = make_ca("portfolio-bench-ca")
    cert, key = make_server_cert(ca, SERVER_NAME)
    settings = {
        "ssl": "on",
        "ssl_cert_file": "{dir}/server.crt",
        "ssl_key_file": "{dir}/server.key",
    }
    with (
        tempfile.TemporaryDirectory(prefix="portfolio-bench-ca-") as ca_dir,
        throwaway_cluster(
            settings, TLS_ONLY_HBA, {"server.crt": cert, "server.key": key}
        ) as cluster,
        delay_proxy(cluster.port, ROUND_TRIP_S) as proxy,
    ):
        ca_path = Path(ca_dir) / "ca.pem"
        ca_path.write_bytes(ca.pem)
        # The function runs as an unprivileged user: the CA must be readable by anyone.
        Path(ca_dir).chmod(0o755)
        ca_path.chmod(0o644)
        admin_url = (
            f"postgresql+psycopg2://postgres@{SERVER_NAME}:{cluster.port}/postgres"
            f"?sslmode=verify-full&sslrootcert={ca_path}"
        )
        yield ProductionLink(proxy, Path(ca_dir), admin_url, function_env(proxy.port))
