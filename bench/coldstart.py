"""`make bench`: cold start, warm latency, memory, bytecode and size of the Lambda image,
measured side by side with a trivial floor, the usual stack's import floor and the blog-recipe
baseline, all on the same base, under the real Lambda emulator, in one interleaved run.

    .venv/bin/python bench/coldstart.py [--quick] [-n N] [-m M] [--no-build] [--out DIR]
                                        [--newer-python] [--ref GITREF] [--no-production]

Writes DIR/latest.json, DIR/latest.md and DIR/latest.png (DIR: bench/results).
--newer-python adds the project image on Python 3.13 (its base is built only then) and writes
DIR/python313.json, .md and .png instead, leaving the latest.* report alone.

Every project image also runs over the production-like database link (bench/dblink.py: TLS
verify-full, 1 ms per round trip, RDS IAM auth), as `<key>+prod`, interleaved with the rest;
the delay proxy counts its database round trips per request. --ref GITREF adds the project as
it was at GITREF (`project-ref`), built by that commit's own scripts, for before/after figures
measured side by side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
# Warm round trips are also counted for one project's page (a slug the bench seeds).
PROJECT_SLUG = "project-0"
FIRST_PORT = 9400
MB = 1_000_000
PRODUCTION = "+prod"
# Invocations per route whose database round trips are counted (the median is reported).
ROUND_TRIP_SAMPLES = 5


@dataclass(frozen=True)
class Subject:
    """What one column of the comparison runs: an image over a database link."""

    spec: images.ImageSpec
    production: bool = False

    @property
    def key(self) -> str:
        return self.spec.key + (PRODUCTION if self.production else "")


@dataclass
class Links:
    """The two databases of a run: the loopback one, and the production-like one (or None)."""

    loopback: str
    production: Any = None  # dblink.ProductionLink

    def env(self, subject: Subject) -> tuple[str, dict[str, str], list[str]]:
        """DATABASE_URL, extra variables and volumes of a container of `subject`."""
        if not subject.production:
            return self.loopback, {}, []
        return self.loopback, self.production.env, self.production.volumes

    def round_trips(self) -> tuple[int, int] | None:
        """(connections, round trips) through the delay proxy so far."""
        if self.production is None:
            return None
        counts = self.production.proxy.counts()
        return counts.connections, counts.round_trips


def event_payload(route: str) -> bytes:
    """The event of a route: the files in events/, and one project's page built from its event."""
    if route in EVENTS:
        return EVENTS[route].read_bytes()
    assert route == "project", route
    event = json.loads((ROOT / "events" / "http-v2" / "get-project.json").read_bytes())
    path = f"/projects/{PROJECT_SLUG}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return json.dumps(event).encode()


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


def start(subject: Subject, name: str, port: int, links: Links, arch: str) -> emulator.Emulated:
    db, env, volumes = links.env(subject)
    return emulator.start(subject.spec.tag, name, port, db, arch, extra_env=env, volumes=volumes)


def cold_sample(subject: Subject, route: str, port: int, links: Links, arch: str) -> dict[str, Any]:
    """One fresh container, one invocation: the emulator's figures, wall time and peak RSS
    (and, over the production-like link, the connections and round trips it took)."""
    before = links.round_trips() if subject.production else None
    box = start(subject, "bench-cold", port, links, arch)
    try:
        status, body = box.invoke(event_payload(route))
        wall_ms = (time.perf_counter() - box.started_at) * 1000
        after = links.round_trips() if subject.production else None
        pid = box.function_pid()
        cpu = emulator.cpu_ms(pid)
        memory = emulator.memory_kb(pid)
        parsed = emulator.parse_log(box.logs())
    finally:
        box.stop()
    init, first = parsed["init_ms"], parsed["first_invoke_ms"]
    counted = {}
    if before is not None and after is not None:
        counted = {"connections": after[0] - before[0], "round_trips": after[1] - before[1]}
    return {
        **counted,
        "ok": response_ok(status, body),
        "emulator_ms": round(init + first, 2) if init is not None and first is not None else None,
        "init_ms": init,
        "first_invoke_ms": first,
        "wall_ms": round(wall_ms, 2),
        "engine_start_ms": round(box.start_cmd_s * 1000, 2),
        "cpu_ms": cpu,
        "peak_rss_mb": round(memory["VmHWM"] * 1024 / MB, 2) if "VmHWM" in memory else None,
    }


def cold_phase(subjects: list[Subject], n: int, links: Links, arch: str) -> dict[str, Any]:
    """N rounds; each round visits every subject (rotated order) and both routes."""
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        s.key: {route: [] for route in EVENTS} for s in subjects
    }
    ports = Ports()
    total = n * len(subjects) * len(EVENTS)
    done = 0
    for round_no in range(n):
        shift = round_no % len(subjects)
        for subject in subjects[shift:] + subjects[:shift]:
            for route in EVENTS:
                sample = cold_sample(subject, route, ports.take(), links, arch)
                samples[subject.key][route].append(sample)
                done += 1
                trips = f", {sample['round_trips']} round trips" if "round_trips" in sample else ""
                log(
                    f"[{done:3d}/{total}] round {round_no + 1}/{n} {subject.key:14s} "
                    f"cold GET /{route:8s} emulator {sample['emulator_ms']} ms "
                    f"(init {sample['init_ms']} + invoke {sample['first_invoke_ms']}), "
                    f"wall {sample['wall_ms']:.0f} ms, CPU {sample['cpu_ms']} ms, "
                    f"peak RSS {sample['peak_rss_mb']} MB{trips}"
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
                        "cpu_ms",
                        "peak_rss_mb",
                        "connections",
                        "round_trips",
                    )
                    if metric in rows[0]
                },
                "samples": rows,
            }
            for route, rows in routes.items()
        }
    return out


def warm_round_trips(box: emulator.Emulated, links: Links) -> dict[str, Any]:
    """Database round trips of warm requests, per route (median of a few, and all of them)."""
    out: dict[str, Any] = {}
    for route in (*EVENTS, "project"):
        payload = event_payload(route)
        counted = []
        for _ in range(ROUND_TRIP_SAMPLES):
            before = links.round_trips()
            status, body = box.invoke(payload)
            after = links.round_trips()
            if not response_ok(status, body) or before is None or after is None:
                raise RuntimeError(f"warm GET /{route} failed over the production-like link")
            counted.append(after[1] - before[1])
        out[route] = {"median": statistics.median(counted), "samples": counted}
    return out


def warm_phase(subjects: list[Subject], m: int, links: Links, arch: str) -> dict[str, Any]:
    """One container per subject, all alive; M invocations per route, round-robin across them."""
    ports = Ports()
    ports.next = FIRST_PORT + 600
    boxes = {
        s.key: start(s, f"bench-warm-{s.key.replace('+', '-')}", ports.take(), links, arch)
        for s in subjects
    }
    payloads = {route: path.read_bytes() for route, path in EVENTS.items()}
    trips: dict[str, Any] = {}
    try:
        pids = {}
        for subject in subjects:
            box = boxes[subject.key]
            for payload in payloads.values():
                box.invoke(payload)
            pids[subject.key] = box.function_pid()
            if subject.production:
                trips[subject.key] = warm_round_trips(box, links)
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
                **({"round_trips": trips[key]} if key in trips else {}),
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
        "--ref",
        help="also run the project as it was at this git commit or branch (`project-ref`)",
    )
    parser.add_argument(
        "--no-production",
        action="store_true",
        help="leave out the production-like database link (`+prod` columns)",
    )
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
    if getattr(args, "ref", None):
        pool.insert(1, images.ref_spec(args.ref))
    return [s for s in pool if not args.only or s.key in args.only]


def select_subjects(args: argparse.Namespace, specs: list[images.ImageSpec]) -> list[Subject]:
    """Every image over loopback; each project image (the app) also over the production link."""
    subjects = [Subject(spec) for spec in specs]
    if not args.no_production:
        subjects += [
            Subject(spec, production=True)
            for spec in specs
            if spec.serves_app and spec.key.startswith("project")
        ]
    return subjects


@contextlib.contextmanager
def databases(production: bool) -> Iterator[Links]:
    """The loopback database and, when asked for, the production-like one, both seeded."""
    from database import bench_database, seed

    with contextlib.ExitStack() as stack:
        links = Links(stack.enter_context(bench_database()))
        if production:
            from dblink import production_link

            links.production = stack.enter_context(production_link())
            seed(links.production.admin_url)
        yield links


def write(results: dict[str, Any], out: Path, stem: str) -> None:
    """OUT/STEM.json, .md and .png; a default run also updates docs/benchmark.md's figures."""
    import chart
    import report

    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(report.markdown(results))
    chart.render(results, out / f"{stem}.png")
    took = results["meta"]["duration_s"]
    log(f"bench: wrote {out}/{stem}.json, {stem}.md, {stem}.png in {took} s")
    if stem == "latest" and out.resolve() == (BENCH / "results").resolve():
        # The published figures: docs/benchmark.md shows this run, never typed numbers.
        doc = ROOT / "docs" / "benchmark.md"
        doc.write_text(report.replace_docs_block(doc.read_text(), report.docs_block(results)))
        log(f"bench: updated the figures in {doc.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_matplotlib()
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

    subjects = select_subjects(args, specs)
    with databases(any(s.production for s in subjects)) as links:
        db = links.loopback
        log("bench: databases migrated and seeded")
        cold = cold_phase(subjects, args.n, links, args.arch)
        warm = warm_phase(subjects, args.m, links, args.arch)
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
            subject.key: {
                "title": subject.spec.title
                + (" over the production-like link" if subject.production else ""),
                "tag": subject.spec.tag,
                "link": "production" if subject.production else "loopback",
                "cold": cold[subject.key],
                "warm": warm[subject.key],
                # The same image: its probes and size are those of the loopback column.
                "bytecode": compiled[subject.spec.key],
                "importtime": imports[subject.spec.key],
                "size": image_sizes[subject.spec.key],
            }
            for subject in subjects
        },
    }
    if args.ref:
        results["meta"]["ref"] = args.ref
    if args.newer_python:
        # Which base and interpreter each image ran on (the default report has one base).
        results["meta"]["bases"] = bases
        results["meta"]["python"] = {
            b: images.python_version(b, args.arch) for b in sorted(set(bases.values()))
        }
    results["targets"] = report.targets(results)
    results["meta"]["duration_s"] = round(time.monotonic() - started)
    write(results, args.out, "python313" if args.newer_python else "latest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
