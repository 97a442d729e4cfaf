"""The HTTP host under load, beside the seed's recipe; and what the new entry point costs
the Lambda path. Not part of the test suite: run it under the engine lock.

    .venv/bin/python bench/http_load.py [--seconds S] [--concurrency C] [--tag TAG]
                                        [--coldstart N] [--out DIR]

Load: GET /projects (12 seeded projects, PostgreSQL on loopback) at fixed concurrency for S
seconds (60), keep-alive connections, on the same image two ways:
- "HTTP host": the image as ECS runs it (its ENTRYPOINT, no command override);
- "seed recipe": the seed's `uvicorn main:app --workers 4`, i.e. `python -m uvicorn
  app.main:app --workers 4` on the same image (same code and dependencies: the host differs).
Both containers get the same CPU quota (--cpus 2). Reported: requests/s, p50 and p99 latency,
errors.

Cold start (--coldstart N, 0 to skip): the same image under the Lambda emulator, N fresh
containers each, alternating, started with `python -m awslambdaric handler.handler` (the old
ENTRYPOINT) and with the image's ENTRYPOINT (`python -m app.hosts.entry`), from container
start to the first answered GET /health.

Writes DIR/http-load.json and DIR/http-load.md (DIR: bench/results).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import database  # noqa: E402

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(name: str, env: dict[str, str], command: list[str]) -> None:
    flags = [item for k, v in env.items() for item in ("-e", f"{k}={v}")]
    subprocess.run(
        [*PODMAN, "run", "--detach", "--name", name, "--network", "host", "--read-only",
         "--tmpfs", "/tmp", "--cpus", "2", *ULIMITS, *flags, *command],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def remove(name: str) -> None:
    subprocess.run([*PODMAN, "rm", "-f", "-t", "0", name], check=False, capture_output=True)


def wait_serving(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/projects", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def load(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    """Each of `concurrency` threads sends GET /projects on one keep-alive connection."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                connection.request("GET", "/projects")
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if ok:
                latencies[index].append(time.perf_counter() - started)
            else:
                errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    every = sorted(x for per in latencies for x in per)
    quantiles = statistics.quantiles(every, n=100) if len(every) > 1 else [0.0] * 99
    return {
        "requests": len(every),
        "errors": sum(errors),
        "rps": round(len(every) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
    }


def run_load(tag: str, url: str, seconds: float, concurrency: int) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    variants = {
        "HTTP host (image ENTRYPOINT)": lambda port: [tag],
        "seed recipe (uvicorn --workers 4)": lambda port: [
            "--entrypoint", "python", tag, "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0",
            "--port", str(port), "--workers", "4",
        ],
    }  # fmt: skip
    for title, command in variants.items():
        name = f"portfolio-bench-http-{uuid.uuid4().hex[:8]}"
        port = free_port()
        env = {"PORT": str(port), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        start(name, env, command(port))
        try:
            wait_serving(port)
            load(port, min(5.0, seconds), 4)  # warm every worker and its pool
            rows[title] = load(port, seconds, concurrency)
            log(f"bench: {title}: {rows[title]}")
        finally:
            remove(name)
    return rows


def rie_path() -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "rie-path", "amd64"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def first_answer_seconds(tag: str, command: list[str], rie: str) -> float:
    name = f"portfolio-bench-entry-{uuid.uuid4().hex[:8]}"
    port = free_port()
    event = (ROOT / "events" / "http-v2" / "get-health.json").read_bytes()
    started = time.monotonic()
    subprocess.run(
        [*PODMAN, "run", "--detach", "--name", name, "--network", "host", "--read-only",
         "--tmpfs", "/tmp", *ULIMITS, "-e", "DATABASE_URL=sqlite:////tmp/p.db",
         "-v", f"{rie}:/rie:ro", "--entrypoint", "/rie", tag,
         "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
         "--runtime-api-address", f"127.0.0.1:{port + 1}", *command],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}{INVOKE_PATH}", event)
                with urllib.request.urlopen(request, timeout=60) as response:
                    assert json.loads(response.read())["statusCode"] == 200
                return time.monotonic() - started
            except OSError:
                if time.monotonic() - started > 120:
                    raise
                time.sleep(0.01)
    finally:
        remove(name)


def run_coldstart(tag: str, n: int) -> dict[str, dict[str, float]]:
    rie = rie_path()
    commands = {
        " ".join(c): c
        for c in (
            ["python", "-m", "awslambdaric", "handler.handler"],
            ["python", "-m", "app.hosts.entry", "handler.handler"],
        )
    }
    samples: dict[str, list[float]] = {key: [] for key in commands}
    for _ in range(n):
        for key, command in commands.items():
            samples[key].append(first_answer_seconds(tag, command, rie))
    return {
        key: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3), "n": len(v)}
        for key, v in samples.items()
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        "# HTTP host: load and entry-point cost",
        "",
        f"{result['date']}, {result['machine']}; image `{result['tag']}`, `--cpus 2`, "
        f"GET /projects, concurrency {result['concurrency']}, {result['seconds']} s each.",
        "",
        "| server | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    for title, row in result["load"].items():
        lines.append(
            f"| {title} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} |"
        )
    if result.get("coldstart"):
        lines += ["", "| Lambda path, container start to first answer | median s | min s | n |",
                  "|---|---|---|---|"]  # fmt: skip
        for key, row in result["coldstart"].items():
            lines.append(f"| `{key}` | {row['median_s']} | {row['min_s']} | {row['n']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tag", default="portfolio-backend:latest")
    parser.add_argument("--coldstart", type=int, default=10)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    import platform

    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs",
        "tag": args.tag,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
    }
    with database.bench_database() as url:
        result["load"] = run_load(args.tag, url, args.seconds, args.concurrency)
    if args.coldstart:
        result["coldstart"] = run_coldstart(args.tag, args.coldstart)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "http-load.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "http-load.md").write_text(report(result))
    print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
