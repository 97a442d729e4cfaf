"""The image under the Lambda emulator for the reliability tests, started with the project's
own runner (`scripts/engine.sh run-local`: read-only root, tmpfs /tmp, no capabilities,
no new privileges, host network to reach the suite's PostgreSQL on loopback)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.image.support import free_port

ENGINE = ["bash", str(ROOT / "scripts" / "engine.sh")]
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def image_under_test(request: pytest.FixtureRequest) -> str:
    """The tag of the image tests' session image (tests/image/conftest.py builds it once)."""
    return str(request.getfixturevalue("image").tag)


def podman(*args: str, check: bool = True, timeout: float = 60) -> str:
    engine = subprocess.run(
        [*ENGINE, "engine"], check=True, capture_output=True, text=True
    ).stdout.strip()
    flags = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"] if engine == "podman" else []
    done = subprocess.run(
        [engine, *flags, *args], check=check, capture_output=True, text=True, timeout=timeout
    )
    return done.stdout


class Function:
    """One running container: invoke it, look inside it, signal its function process."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.log_lines: list[str] = []
        self._follower: subprocess.Popen[str] | None = None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST one event to the emulator (keep-alive on loopback) and decode the answer."""
        body = json.dumps(event)
        for attempt in range(2):
            try:
                self._conn.request("POST", INVOKE_PATH, body, {"content-type": "application/json"})
                response = self._conn.getresponse()
                payload: dict[str, Any] = json.loads(response.read())
                return payload
            except (ConnectionError, http.client.HTTPException):
                self._conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def wait_ready(self, event: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.invoke(event)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def exec_python(self, code: str) -> str:
        return podman("exec", self.name, "python", "-c", code)

    def function_pid(self) -> int:
        """The pid, inside the container, of the function's process: the image's entry point
        (`python -m app.hosts.entry`), or `python -m awslambdaric` in an image that has no
        other."""
        out = self.exec_python(
            "import os\n"
            "for p in os.listdir('/proc'):\n"
            "    if p.isdigit():\n"
            "        try: c = open(f'/proc/{p}/cmdline', 'rb').read()\n"
            "        except OSError: continue\n"
            "        entry = c.split(b'\\0')[1:3]\n"
            "        if entry in ([b'-m', b'app.hosts.entry'], [b'-m', b'awslambdaric']):\n"
            "            print(p)\n"
        )
        pids = [int(line) for line in out.split()]
        assert len(pids) == 1, out
        return pids[0]

    def status(self, pid: int) -> dict[str, str]:
        """/proc/PID/status of a process in the container, as a dict."""
        text = self.exec_python(f"print(open('/proc/{pid}/status').read())")
        return dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in text.splitlines())
            if key
        )

    def kb(self, pid: int, field: str) -> int:
        return int(self.status(pid)[field].split()[0])

    def signal(self, pid: int, signame: str) -> None:
        self.exec_python(f"import os, signal; os.kill({pid}, signal.{signame})")

    def follow_logs(self) -> None:
        """Collect the container's log lines from now on (they outlive a --rm container)."""
        engine = subprocess.run(
            [*ENGINE, "engine"], check=True, capture_output=True, text=True
        ).stdout.strip()
        self._follower = subprocess.Popen(
            [engine, "logs", "-f", self.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        follower = self._follower

        def pump() -> None:
            assert follower.stdout is not None
            for line in follower.stdout:
                self.log_lines.append(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()

    def logs(self) -> str:
        return "\n".join(self.log_lines)

    def close(self) -> None:
        self._conn.close()
        if self._follower is not None:
            self._follower.terminate()
            self._follower.wait(10)


@contextlib.contextmanager
def running_function(image: str, env: dict[str, str]) -> Iterator[Function]:
    """Start `image` under the emulator with engine.sh run-local; remove it afterwards."""
    name = f"portfolio-reliability-{uuid.uuid4().hex[:8]}"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        run_env = {
            **os.environ,
            "NAME": name,
            "PORT": str(port),
            "DETACH": "1",
            "NETWORK": "host",
            "ENV_FILE": str(env_file),
            "DATABASE_URL": env["DATABASE_URL"],
        }
        subprocess.run(
            [*ENGINE, "run-local", image],
            check=True,
            capture_output=True,
            env=run_env,
            timeout=120,
        )
    function = Function(name, port)
    function.follow_logs()
    try:
        yield function
    finally:
        function.close()
        podman("rm", "-f", "-t", "0", name, check=False)


@contextlib.contextmanager
def dedicated_database(server_url: str, name: str) -> Iterator[str]:
    """A migrated database of its own on the suite's server, so that counting the app's
    connections (pg_stat_activity by datname) sees only the container's."""
    from sqlalchemy import create_engine, text

    from app.data.migrate import migrate

    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def server_url(pg_cluster: Any) -> str:
    return os.environ.get("TEST_DATABASE_URL") or pg_cluster.url


def function_env(database_url: str, **extra: str) -> dict[str, str]:
    from tests.conftest import ADMIN_TOKEN_SHA256

    return {
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN_SHA256": ADMIN_TOKEN_SHA256,
        "DB_CONNECT_TIMEOUT": "2",
        "DB_STATEMENT_TIMEOUT_MS": "5000",
        "LOG_LEVEL": "INFO",
        **extra,
    }
