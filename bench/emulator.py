"""One fresh container under the real Lambda emulator: start, invoke, read its logs and memory.

The container is started with exactly the command `scripts/engine.sh run-local` runs (read-only
root, tmpfs /tmp, no capabilities, the emulator from the aws-sam-cli package mounted at /rie,
host network so the database on loopback is reachable), obtained from it under DRY_RUN=1.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from images import engine_command

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# What the emulator prints (checked against aws-lambda-rie in aws-sam-cli 1.x):
#   [INFO] (rapid) INIT REPORT(durationMs: 536.730000)
#   [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 16.533000ms)
INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
INVOKE_RTDONE = re.compile(r"INVOKE RTDONE\(status: (\w+).*?duration: ([0-9.]+)ms\)")
CONNECT_DEADLINE_S = 30.0
INVOKE_TIMEOUT_S = 60.0


@dataclass
class Emulated:
    """A running container; `stop()` removes it."""

    name: str
    port: int
    started_at: float  # perf_counter just before the engine was asked to start it
    start_cmd_s: float  # how long the engine's `run --detach` took
    _conn: http.client.HTTPConnection | None = None

    def invoke(self, payload: bytes) -> tuple[int, bytes]:
        """POST an event; wait for the emulator to listen if it does not yet."""
        deadline = time.perf_counter() + CONNECT_DEADLINE_S
        while True:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=INVOKE_TIMEOUT_S
                )
            try:
                self._conn.request(
                    "POST", INVOKE_PATH, body=payload, headers={"Content-Type": "application/json"}
                )
                response = self._conn.getresponse()
                return response.status, response.read()
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
                self._conn.close()
                self._conn = None
                if time.perf_counter() > deadline:
                    raise
                time.sleep(0.002)

    def logs(self) -> str:
        result = subprocess.run(
            ["podman", "logs", self.name], check=False, capture_output=True, text=True
        )
        return result.stdout + result.stderr

    def function_pid(self) -> int | None:
        """Host pid of the function's python process (a child of the emulator, PID 1 inside)."""
        result = subprocess.run(
            ["podman", "inspect", "--format", "{{.State.Pid}}", self.name],
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not result.stdout.strip().isdigit():
            return None
        todo = [int(result.stdout.strip())]
        while todo:
            pid = todo.pop(0)
            try:
                if Path(f"/proc/{pid}/comm").read_text().startswith("python"):
                    return pid
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
        return None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        subprocess.run(
            ["podman", "rm", "--force", "--time", "0", self.name],
            check=False,
            capture_output=True,
        )


def cpu_ms(pid: int | None) -> float | None:
    """CPU time (user + system, all its threads, living and ended) a process has used, in ms.

    Unlike wall time it hardly moves with the load other jobs put on a shared machine: a
    process that waits for a core is not charged for the wait. Kernel ticks: 10 ms steps.
    """
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # After the command name: state is field 3, utime and stime fields 14 and 15 (proc(5)).
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int | None) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of a process, in kB ({} if it is gone)."""
    if pid is None:
        return {}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return {}
    found = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


def start(
    tag: str,
    name: str,
    port: int,
    database_url: str,
    arch: str,
    extra_env: dict[str, str] | None = None,
    volumes: list[str] | None = None,
) -> Emulated:
    """Start a fresh container of `tag` the way `make local` does; do not wait for it.

    `extra_env` adds variables: the probes' (PYTHONVERBOSE, PYTHONPROFILEIMPORTTIME), and the
    production-like link's (bench/dblink.py), which `volumes` (HOST:CONTAINER:ro) completes with
    its CA.
    """
    command = engine_command(
        "run-local",
        tag,
        arch,
        env={
            "NAME": name,
            "PORT": str(port),
            "DETACH": "1",
            "NETWORK": "host",
            "DATABASE_URL": database_url,
        },
    )
    at = command.index(tag)
    for key, value in (extra_env or {}).items():
        command[at:at] = ["-e", f"{key}={value}"]
    for volume in volumes or []:
        command[at:at] = ["-v", volume]
    subprocess.run(
        ["podman", "rm", "--force", "--time", "0", name], check=False, capture_output=True
    )
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return Emulated(name, port, t0, time.perf_counter() - t0)


def parse_log(text: str) -> dict[str, float | None]:
    """The emulator's INIT REPORT duration and its first INVOKE RTDONE duration, in ms."""
    init = INIT_REPORT.search(text)
    first = INVOKE_RTDONE.search(text)
    return {
        "init_ms": float(init.group(1)) if init else None,
        "first_invoke_ms": float(first.group(2)) if first else None,
    }
