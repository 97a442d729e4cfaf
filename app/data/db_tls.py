"""TLS to PostgreSQL: libpq's sslmode and CA bundle, and a log line saying why TLS failed.

On AWS the default is `verify-full` against the RDS CA bundle shipped in the image
(certs/rds-ca-bundle.pem: AWS's global RDS bundle, plus Amazon Root CA 1, which signs RDS
Proxy endpoints' certificates). libpq's own default, `prefer`, checks no certificate and
falls back to plaintext without a word. The RDS CAs are in no operating system's trust store:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.SSL.html
RDS Proxy presents ACM certificates (a wildcard name) that chain to Amazon Root CA 1:
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL-certificate-rotation.html
https://repost.aws/knowledge-center/rds-aurora-mysql-connect-proxy
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.settings import SYSTEM_TRUST_STORE, Settings

logger = logging.getLogger("app.db")

_VERIFYING = ("verify-ca", "verify-full")

# libpq's words for a TLS failure -> what to tell the operator. The whole libpq message is not
# logged: it names hosts and users; these phrases name neither.
_REASONS = (
    ("certificate verify failed", "the server's certificate is signed by no CA in DB_SSLROOTCERT"),
    ("does not match host name", "the server's certificate does not name the host connected to"),
    ("server does not support SSL", "the server does not offer TLS, and DB_SSLMODE requires it"),
    ("root certificate file", "the CA bundle DB_SSLROOTCERT names cannot be read"),
    ("no encryption", "the server refuses connections without TLS (check DB_SSLMODE)"),
    ("SSL error", "the TLS handshake failed"),
)


def sslmode(settings: Settings) -> str | None:
    """The sslmode in effect: DB_SSLMODE, the URL's own ?sslmode=, or the default."""
    return settings.effective_sslmode


def system_trust_store() -> str:
    """The operating system's CA file, as the OS's own OpenSSL finds it.

    libpq 16+ reads `sslrootcert=system` as "OpenSSL's default paths", but the libpq that
    psycopg2-binary bundles (libpq 17, OpenSSL 3.5) has its OpenSSL built with the wheel
    builder's OPENSSLDIR, a directory no machine has: left to libpq, `system` finds no CA at
    all. Python's ssl module links the OS's OpenSSL, whose defaults are the OS's store (and
    which honours OpenSSL's SSL_CERT_FILE override, as libpq's would).
    """
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.cafile is None:
        raise FileNotFoundError(
            "sslrootcert=system: no CA file in the system trust store "
            f"({paths.openssl_cafile}); install ca-certificates or name a CA file"
        )
    return paths.cafile


def connect_args(settings: Settings) -> dict[str, Any]:
    """libpq parameters for TLS; the CA bundle only where it is used (verify-ca/-full).

    Given with `require`, libpq would verify against the bundle as `verify-ca` does. They
    replace the URL's own query parameters, so they carry what the URL says when it is the
    configuration in effect (settings.sslrootcert, settings.effective_sslmode).
    """
    args: dict[str, Any] = {}
    mode = settings.effective_sslmode
    if mode is not None:
        args["sslmode"] = mode
    if mode in _VERIFYING:
        root = settings.sslrootcert
        args["sslrootcert"] = system_trust_store() if root == SYSTEM_TRUST_STORE else root
    return args


def refusal_reason(message: str) -> str | None:
    """Why libpq refused the connection, if the reason is TLS; None otherwise."""
    for phrase, reason in _REASONS:
        if phrase in message:
            return reason
    return None


def explain_refusals(engine: Engine, mode: str | None) -> None:
    """Log one line naming the TLS reason whenever `engine` fails to connect because of TLS.

    The 503 the client gets says only "database unavailable"; the operator needs to know that
    it is the certificate, the host name or a server without TLS, not an outage.
    """

    def handle_error(context: Any) -> None:
        if context.is_pre_ping:
            return
        reason = refusal_reason(str(context.original_exception))
        if reason is not None:
            logger.warning("database TLS refused: %s (sslmode=%s)", reason, mode or "prefer")

    event.listen(engine, "handle_error", handle_error)
