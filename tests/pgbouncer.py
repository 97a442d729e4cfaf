"""A real PgBouncer (the Debian package) in front of a test cluster: the local stand-in for RDS
Proxy. Transaction pooling and the default `ignore_startup_parameters` (empty), so like RDS
Proxy it closes any client that sends the libpq `options` startup parameter."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.postgres import Cluster, _runner
from tests.support import free_port


def _binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if not found:
        raise RuntimeError("pgbouncer not found: apt-get install pgbouncer (make test does)")
    return found


@contextlib.contextmanager
def pgbouncer(cluster: Cluster, pool_size: int = 4) -> Iterator[int]:
    """Run PgBouncer for every database of `cluster`; yield its port."""
    runner = _runner()
    tmp = Path(tempfile.mkdtemp(prefix="portfolio-pgbouncer-"))
    port = free_port()
    (tmp / "users.txt").write_text('"postgres" ""\n')
    (tmp / "pgbouncer.ini").write_text(
        f"""[databases]
* = host=127.0.0.1 port={cluster.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 100
logfile = {tmp}/pgbouncer.log
pidfile = {tmp}/pgbouncer.pid
"""
    )
    if runner:
        entry = pwd.getpwnam(runner[2])
        for path in (tmp, *tmp.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    subprocess.run([*runner, _binary(), "-d", str(tmp / "pgbouncer.ini")], check=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError((tmp / "pgbouncer.log").read_text(errors="replace"))
            time.sleep(0.05)
        yield port
    finally:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int((tmp / "pgbouncer.pid").read_text()), signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)
