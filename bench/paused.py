"""`make bench`, the paused-database row: what a visitor waits for, database awake vs paused.

    .venv/bin/python bench/paused.py [--quick] [-n N] [--out DIR]

Each sample is a fresh interpreter (a cold Lambda environment, without the emulator): it
imports `handler` (INIT) and serves GET /projects, GET /projects/{slug} and POST /contact,
timing each answer. "Paused" samples run while every process of the PostgreSQL server is
stopped (SIGSTOP, as while Aurora resumes); "awake" ones against the running server. The
two states alternate in one run, so they share the machine's load. The store is the local
S3 server the tests use (moto), on loopback: S3 in a region answers in milliseconds more.

Writes DIR/paused.json and DIR/paused.md (DIR: bench/results).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT)]

ROUTES = ["GET /projects", "GET /projects/{slug}", "POST /contact"]
# Served in this order by each fresh interpreter: the first pays for the first connection.
ORDINALS = ["1st", "2nd", "3rd"]
SAMPLE = {"slug": "bench", "title": "Bench", "summary": "s", "body": "b " * 500, "published": True}

VISITOR = """
import json, sys, time
started = time.perf_counter()
import handler
init_ms = (time.perf_counter() - started) * 1000
from scripts.generate_events import http_v2
from tests.conftest import lambda_context
requests = [
    {"method": "GET", "path": "/projects"},
    {"method": "GET", "path": "/projects/bench"},
    {"method": "POST", "path": "/contact", "body": {"name": "B", "email": "b@example.com",
     "message": "bench"}},
]
answers = []
for i, request in enumerate(requests):
    event = http_v2(request)
    event["requestContext"]["http"]["sourceIp"] = sys.argv[1]
    t = time.perf_counter()
    answer = handler.handler(event, lambda_context(f"bench-{i}"))
    answers.append({
        "ms": (time.perf_counter() - t) * 1000,
        "status": answer["statusCode"],
        "source": answer["headers"].get("x-content-source", ""),
    })
print(json.dumps({"init_ms": init_ms, "answers": answers}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _visit(env: dict[str, str], source_ip: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", VISITOR, source_ip],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min": round(ordered[0], 1),
        "median": round(statistics.median(ordered), 1),
        "max": round(ordered[-1], 1),
    }


def measure(n: int) -> dict[str, Any]:
    """`n` visits in each state, alternating; medians per route and state."""
    from sqlalchemy import create_engine

    from app.data.migrate import migrate
    from app.hosts.lambda_host import LambdaAdapter
    from app.settings import Settings
    from tests.client import LambdaClient
    from tests.conftest import ADMIN_TOKEN_SHA256
    from tests.postgres import throwaway_cluster
    from tests.s3_server import s3_server

    samples: dict[str, list[dict[str, Any]]] = {"awake": [], "paused": []}
    with throwaway_cluster() as cluster, s3_server() as s3:
        engine = create_engine(cluster.url)
        migrate(engine)
        engine.dispose()
        bucket = s3.bucket()
        settings = {
            "database_url": cluster.url,
            "admin_token_sha256": ADMIN_TOKEN_SHA256,
            "db_connect_timeout": "2",
            "contact_rate_limit": "10000",
            **bucket.settings,
        }
        owner = LambdaAdapter(Settings(**settings))
        created = LambdaClient(owner.handle).post("/projects", SAMPLE, admin=True)
        assert created.status == 201, created.text
        env = {**os.environ, **{k.upper(): str(v) for k, v in settings.items()}}
        for i in range(n):
            for state in ("awake", "paused"):
                with cluster.paused() if state == "paused" else contextlib.nullcontext():
                    visit = _visit(env, f"10.1.{i}.{len(samples[state])}")
                samples[state].append(visit)
                log(
                    f"bench: {state} #{i + 1}: "
                    + ", ".join(
                        f"{a['status']} {a['source'] or '-'} {a['ms']:.0f} ms"
                        for a in visit["answers"]
                    )
                )
            # The outbox's messages into the inbox; the next paused visit starts clean.
            time.sleep(0.2)
            LambdaClient(owner.handle).get("/contact", admin=True)
        owner.shutdown()
    result: dict[str, Any] = {}
    for state, visits in samples.items():
        result[state] = {
            "init_ms": _summary([v["init_ms"] for v in visits]),
            "routes": {
                route: {
                    "ms": _summary([v["answers"][j]["ms"] for v in visits]),
                    "statuses": sorted({v["answers"][j]["status"] for v in visits}),
                    "sources": sorted({v["answers"][j]["source"] for v in visits} - {""}),
                }
                for j, route in enumerate(ROUTES)
            },
        }
    return result


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Visitor latency: database awake vs paused",
        "",
        f"{results['n']} fresh interpreters per state, alternating (`bench/paused.py`, "
        f"{results['when']}). Paused: every PostgreSQL process stopped with SIGSTOP during the "
        "visit. Milliseconds, median (min-max); the fallback's read budget is "
        f"{results['budget_ms']} ms.",
        "",
        "| | database awake | database paused |",
        "|---|---|---|",
    ]

    def cell(summary: dict[str, float], extra: str = "") -> str:
        return f"{summary['median']:.0f} ({summary['min']:.0f}-{summary['max']:.0f}){extra}"

    awake, paused = results["awake"], results["paused"]
    lines.append(
        f"| INIT (import handler) | {cell(awake['init_ms'])} | {cell(paused['init_ms'])} |"
    )
    for route in ROUTES:
        row = []
        for state in (awake, paused):
            found = state["routes"][route]
            statuses = "/".join(str(s) for s in found["statuses"])
            sources = ", ".join(found["sources"]) or "database"
            row.append(cell(found["ms"], f" · {statuses} from {sources}"))
        lines.append(f"| {route} ({ORDINALS[ROUTES.index(route)]} request) | {row[0]} | {row[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 visits per state")
    parser.add_argument("-n", type=int, default=None, help="visits per state (default 7)")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    n = args.n or (2 if args.quick else 7)
    from app.settings import Settings

    started = time.time()
    results = {
        "n": n,
        "when": time.strftime("%Y-%m-%d", time.gmtime()),
        "budget_ms": Settings.model_fields["db_read_budget_ms"].default,
        **measure(n),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "paused.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "paused.md").write_text(markdown(results))
    log(f"bench: wrote {args.out}/paused.json, paused.md in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
