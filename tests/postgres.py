"""A throwaway PostgreSQL cluster for the test suite (or TEST_DATABASE_URL when given).

initdb and pg_ctl refuse to run as root, and CI runs as root: the cluster then runs as an
unprivileged user that owns its temporary data directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support import free_port


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: install the PostgreSQL server (make test does)")


def _runner() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root with neither a postgres nor a nobody user")


class Cluster:
    """A PostgreSQL cluster in a temporary directory on a free loopback port.

    `settings` adds `-c name=value` server settings; `hba` replaces pg_hba.conf (e.g. a
    TLS-only server: `hostssl ... trust` then `host ... reject`); `files` are written into
    the cluster's directory, owned by the server's user (a server key must be), and their
    paths can be named in `settings` as `{dir}/name`. With `password`, every connection must
    authenticate (scram-sha-256) and the superuser `postgres` has that password; without,
    trust authentication.
    """

    def __init__(
        self,
        settings: dict[str, str] | None = None,
        hba: str | None = None,
        files: dict[str, bytes] | None = None,
        password: str | None = None,
    ) -> None:
        self.runner = _runner()
        self.tmp = Path(tempfile.mkdtemp(prefix="portfolio-pg-"))
        self.data = self.tmp / "data"
        sockets = self.tmp / "sock"
        sockets.mkdir()
        if self.runner:
            entry = pwd.getpwnam(self.runner[2])
            for path in (self.tmp, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        self.password = password
        credentials = f"postgres:{password}" if password else "postgres"
        self.url = f"postgresql+psycopg2://{credentials}@127.0.0.1:{self.port}/postgres"
        auth = ["-A", "trust"]
        if password:
            pwfile = self.tmp / "pwfile"
            pwfile.write_text(password + "\n")
            if self.runner:
                entry = pwd.getpwnam(self.runner[2])
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        self._options = (
            f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        for name, content in (files or {}).items():
            path = self.tmp / name
            path.write_bytes(content)
            path.chmod(0o600)
            if self.runner:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        for name, value in (settings or {}).items():
            self._options += f" -c {name}={value.format(dir=self.tmp)}"
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            *auth,
            "-E",
            "UTF8",
            "--no-sync",
        )
        if hba is not None:
            (self.data / "pg_hba.conf").write_text(hba)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run([*self.runner, _bin(tool), *args], check=check, capture_output=True)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            self._options,
            "-l",
            str(self.tmp / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def processes(self) -> list[int]:
        """The postmaster (from postmaster.pid) and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    @contextlib.contextmanager
    def paused(self) -> Iterator[list[int]]:
        """Every process of the server stopped (SIGSTOP) for the block, as while Aurora
        resumes from a pause: connections are accepted by the kernel and never answered.
        Yields their pids; all are continued (SIGCONT) at the end, whatever happened."""
        pids = self.processes()
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        try:
            yield pids
        finally:
            for pid in pids:
                _signal(pid, signal.SIGCONT)


def _signal(pid: int, signum: int) -> None:
    # The postmaster is stopped first, so it forks nothing after the list was taken; a
    # backend that exited meanwhile (a connection just closed) needs no signal.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


@contextlib.contextmanager
def throwaway_cluster(
    settings: dict[str, str] | None = None,
    hba: str | None = None,
    files: dict[str, bytes] | None = None,
    password: str | None = None,
) -> Iterator[Cluster]:
    """Start a cluster (see `Cluster` for the options); yield it; remove it afterwards."""
    cluster = Cluster(settings, hba, files, password)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
