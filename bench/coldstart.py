"""`make bench`: cold start, warm latency, memory, bytecode and size of the Lambda image,
measured side by side with a trivial floor, the usual stack's import floor and the blog-recipe
baseline, all on the same base, under the real Lambda emulator, in one interleaved run.

    .venv/bin/python bench/coldstart.py [--quick] [-n N] [-m M] [--no-build] [--out DIR]
                                        [--newer-python]

Writes DIR/latest.json, DIR/latest.md and DIR/latest.png (DIR: bench/results).
--newer-python adds the project image on Python 3.13 (its base is built only then) and writes
DIR/python313.json, .md and .png instead, leaving the latest.* report alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import emulator  # noqa: E402
import images  # noqa: E402
import probes  # noqa: E402
import sizes  # noqa: E402
import stats  # noqa: E402

EVENTS = {
    "health": ROOT / "events" / "http-v2" / "get-health.json",
    "projects": ROOT / "events" / "http-v2" / "get-projects.json",
}
FIRST_PORT = 9400
MB = 1_000_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_matplotlib() -> None:
    """Install the bench-only requirements (pinned, hashed) into this interpreter if missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("bench: installing bench/requirements.txt (matplotlib) into the virtualenv")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--require-hashes",
                "-r",
                str(BENCH / "requirements.txt"),
            ],
            check=True,
        )


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    podman = subprocess.run(["podman", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", "")
        if hasattr(platform, "freedesktop_os_release")
        else "",
        "engine": podman.stdout.strip(),
    }


def response_ok(status: int, body: bytes) -> bool:
    """The emulator answered and the function returned HTTP 200."""
    if status != 200:
        return False
    try:
        return int(json.loads(body).get("statusCode", 0)) == 200
    except (ValueError, AttributeError):
        return False


class Ports:
    """Fresh loopback ports for each container (the emulator's API listens on port + 10000)."""

    def __init__(self) -> None:
        self.next = FIRST_PORT

    def take(self) -> int:
        port = self.next
        self.next = FIRST_PORT + (self.next - FIRST_PORT + 1) % 500
        return port


def cold_sample(
    spec: images.ImageSpec, route: str, port: int, db: str, arch: str
) -> dict[str, Any]:
    """One fresh container, one invocation: the emulator's figures, wall time and peak RSS."""
    box = emulator.start(spec.tag, "bench-cold", port, db, arch)
    try:
        status, body = box.invoke(EVENTS[route].read_bytes())
        wall_ms = (time.perf_counter() - box.started_at) * 1000
        memory = emulator.memory_kb(box.function_pid())
        parsed = emulator.parse_log(box.logs())
    finally:
        box.stop()
    init, first = parsed["init_ms"], parsed["first_invoke_ms"]
    return {
        "ok": response_ok(status, body),
        "emulator_ms": round(init + first, 2) if init is not None and first is not None else None,
        "init_ms": init,
        "first_invoke_ms": first,
        "wall_ms": round(wall_ms, 2),
        "engine_start_ms": round(box.start_cmd_s * 1000, 2),
        "peak_rss_mb": round(memory["VmHWM"] * 1024 / MB, 2) if "VmHWM" in memory else None,
    }


def cold_phase(specs: list[images.ImageSpec], n: int, db: str, arch: str) -> dict[str, Any]:
    """N rounds; each round visits every image (rotated order) and both routes."""
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        s.key: {route: [] for route in EVENTS} for s in specs
    }
    ports = Ports()
    total = n * len(specs) * len(EVENTS)
    done = 0
    for round_no in range(n):
        shift = round_no % len(specs)
        for spec in specs[shift:] + specs[:shift]:
            for route in EVENTS:
                sample = cold_sample(spec, route, ports.take(), db, arch)
                samples[spec.key][route].append(sample)
                done += 1
                log(
                    f"[{done:3d}/{total}] round {round_no + 1}/{n} {spec.key:9s} "
                    f"cold GET /{route:8s} emulator {sample['emulator_ms']} ms "
                    f"(init {sample['init_ms']} + invoke {sample['first_invoke_ms']}), "
                    f"wall {sample['wall_ms']:.0f} ms, peak RSS {sample['peak_rss_mb']} MB"
                    + ("" if sample["ok"] else "  NOT OK")
                )
    out: dict[str, Any] = {}
    for key, routes in samples.items():
        out[key] = {
            route: {
                "failures": sum(not s["ok"] for s in rows),
                **{
                    metric: stats.summary([s[metric] for s in rows])
                    for metric in (
                        "emulator_ms",
                        "init_ms",
                        "first_invoke_ms",
                        "wall_ms",
                        "engine_start_ms",
                        "peak_rss_mb",
                    )
                },
                "samples": rows,
            }
            for route, rows in routes.items()
        }
    return out


def warm_phase(specs: list[images.ImageSpec], m: int, db: str, arch: str) -> dict[str, Any]:
    """One container per image, all alive; M invocations per route, round-robin across them."""
    ports = Ports()
    ports.next = FIRST_PORT + 600
    boxes = {
        s.key: emulator.start(s.tag, f"bench-warm-{s.key}", ports.take(), db, arch) for s in specs
    }
    payloads = {route: path.read_bytes() for route, path in EVENTS.items()}
    try:
        pids = {}
        for key, box in boxes.items():
            for payload in payloads.values():
                box.invoke(payload)
            pids[key] = box.function_pid()
        start_rss = {key: emulator.memory_kb(pid).get("VmRSS") for key, pid in pids.items()}
        times: dict[str, dict[str, list[float]]] = {k: {r: [] for r in EVENTS} for k in boxes}
        failures = {key: 0 for key in boxes}
        for route, payload in payloads.items():
            for i in range(m):
                for key, box in boxes.items():
                    t0 = time.perf_counter()
                    status, body = box.invoke(payload)
                    times[key][route].append((time.perf_counter() - t0) * 1000)
                    failures[key] += not response_ok(status, body)
                if (i + 1) % max(1, m // 5) == 0 or i + 1 == m:
                    line = ", ".join(
                        f"{k} p50 {stats.percentile(t[route], 50):.2f} ms" for k, t in times.items()
                    )
                    log(f"warm GET /{route} {i + 1}/{m}: {line}")
        out = {}
        for key in boxes:
            end = emulator.memory_kb(pids[key])
            rss0, rss1 = start_rss[key], end.get("VmRSS")
            out[key] = {
                "failures": failures[key],
                **{route: stats.latency(times[key][route]) for route in EVENTS},
                "rss_start_mb": round(rss0 * 1024 / MB, 2) if rss0 else None,
                "rss_end_mb": round(rss1 * 1024 / MB, 2) if rss1 else None,
                "rss_growth_mb": round((rss1 - rss0) * 1024 / MB, 2) if rss0 and rss1 else None,
                "peak_rss_mb": round(end["VmHWM"] * 1024 / MB, 2) if "VmHWM" in end else None,
            }
        return out
    finally:
        for box in boxes.values():
            box.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=3, M=50: the CI smoke test")
    parser.add_argument("-n", type=int, help="fresh containers per image and route (15)")
    parser.add_argument("-m", type=int, help="warm invocations per image and route (500)")
    parser.add_argument("--no-build", action="store_true", help="reuse the images as they are")
    parser.add_argument("--arch", default="amd64", help="amd64 (arm64 runs emulated: not timed)")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="output directory")
    parser.add_argument("--only", nargs="*", help="image keys to run (default: all four)")
    parser.add_argument(
        "--newer-python",
        action="store_true",
        help=f"add the project image on Python {images.NEWER_PYTHON} (builds its base; slow "
        "the first time) and write python313.* instead of latest.*",
    )
    args = parser.parse_args(argv)
    args.n = args.n or (3 if args.quick else 15)
    args.m = args.m or (50 if args.quick else 500)
    return args


def select_specs(args: argparse.Namespace) -> list[images.ImageSpec]:
    """The images of this run: the four of SPECS, plus the newer-Python one only on request."""
    pool = [*images.SPECS, *([images.PROJECT_NEWER] if args.newer_python else [])]
    return [s for s in pool if not args.only or s.key in args.only]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_matplotlib()
    import chart
    import report

    specs = select_specs(args)
    started = time.monotonic()
    base = images.resolve_base(args.arch)
    log(f"bench: base {base}; N={args.n} cold starts per image and route, M={args.m} warm")
    bases = {spec.key: base for spec in specs}
    if any(spec.newer_python for spec in specs):
        newer = images.newer_base(args.arch, base)
        log(f"bench: newer-Python base {newer}")
        bases.update({spec.key: newer for spec in specs if spec.newer_python})
    built = {}
    for spec in specs:
        if args.no_build and images.image_exists(spec.tag):
            log(f"bench: reusing {spec.tag}")
            continue
        log(f"bench: building {spec.tag}")
        built[spec.key] = round(images.build(spec, bases[spec.key], args.arch), 1)
        log(f"bench: built {spec.tag} in {built[spec.key]} s")

    from database import bench_database

    with bench_database() as db:
        log("bench: database migrated and seeded")
        cold = cold_phase(specs, args.n, db, args.arch)
        warm = warm_phase(specs, args.m, db, args.arch)
        probe_event = EVENTS["projects"].read_bytes()
        compiled, imports = {}, {}
        for spec in specs:
            compiled[spec.key] = probes.compiled_modules(spec.tag, 9390, db, args.arch, probe_event)
            imports[spec.key] = probes.import_time(spec.tag, 9391, db, args.arch, probe_event)
            log(
                f"probe {spec.key:9s}: {compiled[spec.key]['compiled_from_source']} modules "
                f"compiled from source; imports {imports[spec.key]['total_ms']} ms "
                f"({imports[spec.key]['modules']} modules)"
            )
    image_sizes = {}
    for spec in specs:
        image_sizes[spec.key] = sizes.measure(spec.tag, bases[spec.key])
        s = image_sizes[spec.key]
        log(
            f"size  {spec.key:9s}: total {s['total_bytes'] / MB:.1f} MB, added "
            f"{s['added_bytes'] / MB:.1f} MB, gzip {s['added_gzip_bytes'] / MB:.1f} MB"
        )

    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "base": base,
            "arch": args.arch,
            "n": args.n,
            "m": args.m,
            "quick": args.quick,
            "build_seconds": built,
            "duration_s": None,
            "units": "ms; MB = 10^6 bytes",
        },
        "images": {
            spec.key: {
                "title": spec.title,
                "tag": spec.tag,
                "cold": cold[spec.key],
                "warm": warm[spec.key],
                "bytecode": compiled[spec.key],
                "importtime": imports[spec.key],
                "size": image_sizes[spec.key],
            }
            for spec in specs
        },
    }
    if args.newer_python:
        # Which base and interpreter each image ran on (the default report has one base).
        results["meta"]["bases"] = bases
        results["meta"]["python"] = {
            b: images.python_version(b, args.arch) for b in sorted(set(bases.values()))
        }
    results["targets"] = report.targets(results)
    results["meta"]["duration_s"] = round(time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "python313" if args.newer_python else "latest"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(report.markdown(results))
    chart.render(results, args.out / f"{stem}.png")
    took = results["meta"]["duration_s"]
    log(f"bench: wrote {args.out}/{stem}.json, {stem}.md, {stem}.png in {took} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
