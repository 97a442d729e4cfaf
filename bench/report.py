"""The issue's targets, evaluated on one run's results, and the markdown report.

Cold-start ratios compare medians of the emulator's own figures (INIT REPORT + first
INVOKE RTDONE) measured in the same interleaved run; wall time is reported beside them.
"""

from __future__ import annotations

from typing import Any

MB = 1_000_000
NEWER_KEY = "project-py313"
# "Materially faster": the newer interpreter's median cold start, emulator figure and wall time
# alike, on both routes, at most this fraction of 3.11's in the same run.
MATERIAL = 0.90


def _get(results: dict[str, Any], key: str, *path: str) -> Any:
    node: Any = results["images"].get(key)
    for part in path:
        if node is None:
            return None
        node = node.get(part)
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def paired(
    results: dict[str, Any],
    key: str,
    route: str,
    floor: str = "depfloor",
    metric: str = "emulator_ms",
) -> list[float]:
    """Per round, `key`'s cold start over the floor's in the same round (`metric`).

    Rounds visit every image within a few seconds, so a ratio within a round cancels the load
    other jobs put on the machine, which drifts over a run far more than the images differ.
    """
    mine = _get(results, key, "cold", route, "samples") or []
    theirs = _get(results, floor, "cold", route, "samples") or []
    return [
        a[metric] / b[metric]
        for a, b in zip(mine, theirs, strict=False)
        if a.get(metric) and b.get(metric)
    ]


def paired_summary(ratios: list[float]) -> dict[str, float] | None:
    """Median and interquartile range of paired ratios (None without any)."""
    if not ratios:
        return None
    ordered = sorted(ratios)

    def q(p: float) -> float:
        rank = (len(ordered) - 1) * p
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return {"median": round(q(0.5), 3), "p25": round(q(0.25), 3), "p75": round(q(0.75), 3)}


def _paired_median(results: dict[str, Any], key: str, route: str) -> float | None:
    summary = paired_summary(paired(results, key, route))
    return None if summary is None else summary["median"]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of the issue: measured value, limit, and whether it is met."""

    def cold(key: str) -> float | None:
        return _get(results, key, "cold", "projects", "emulator_ms", "median")

    def cold_health(key: str) -> float | None:
        return _get(results, key, "cold", "health", "emulator_ms", "median")

    def warm_trips(key: str, route: str) -> float | None:
        return _get(results, key, "warm", "round_trips", route, "median")

    project_cold = cold("project")
    size_added = _get(results, "project", "size", "added_bytes")
    size_gzip = _get(results, "project", "size", "added_gzip_bytes")
    rows = [
        (
            "cold DB-backed GET /projects / dependency floor (median of per-round ratios)",
            "ratio",
            _paired_median(results, "project", "projects"),
            1.00,
        ),
        (
            "cold GET /health / dependency floor (median of per-round ratios)",
            "ratio",
            _paired_median(results, "project", "health"),
            0.97,
        ),
        (
            "cold GET /projects over the production-like link / dependency floor "
            "(median of per-round ratios)",
            "ratio",
            _paired_median(results, "project+prod", "projects"),
            1.00,
        ),
        (
            "database round trips of a warm GET /projects (production-like link)",
            "count",
            warm_trips("project+prod", "projects"),
            1,
        ),
        (
            "database round trips of a warm GET /projects/{slug} (production-like link)",
            "count",
            warm_trips("project+prod", "project"),
            1,
        ),
        (
            "cold DB-backed GET /projects / trivial floor (median)",
            "ratio",
            _ratio(project_cold, cold("floor")),
            10.0,
        ),
        (
            "cold DB-backed GET /projects / conventional baseline (median)",
            "ratio",
            _ratio(project_cold, cold("baseline")),
            0.30,
        ),
        (
            "modules compiled from source at start (INIT + first request)",
            "count",
            _get(results, "project", "bytecode", "compiled_from_source"),
            0,
        ),
        (
            "peak RSS after the first DB-backed request (median VmHWM)",
            "MB",
            _get(results, "project", "cold", "projects", "peak_rss_mb", "median"),
            66.5,
        ),
        (
            "image bytes added above the base, uncompressed",
            "MB",
            round(size_added / MB, 2) if size_added is not None else None,
            65.0,
        ),
        (
            "image bytes added above the base, gzip",
            "MB",
            round(size_gzip / MB, 2) if size_gzip is not None else None,
            20.0,
        ),
        (
            "warm GET /health p50 / floor's warm p50",
            "ratio",
            _ratio(
                _get(results, "project", "warm", "health", "p50"),
                _get(results, "floor", "warm", "health", "p50"),
            ),
            1.5,
        ),
    ]
    return [
        {
            "target": name,
            "unit": unit,
            "value": value,
            "limit": limit,
            "met": None if value is None else value <= limit,
        }
        for name, unit, value, limit in rows
    ]


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _triple(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("n", 0) == 0:
        return "-"
    return f"{summary['min']:.0f} / {summary['median']:.0f} / {summary['p90']:.0f}"


def markdown(results: dict[str, Any]) -> str:
    """The report: targets, then one table per concern, every figure from the same run."""
    meta = results["meta"]
    m = meta["machine"]
    lines = [
        "# Cold-start benchmark",
        "",
        f"Run {meta['date']} on {m['cpu']} ({m['cores']} cores, shared), {m['os']}, "
        f"kernel {m['kernel']}, {m['engine']}; base `{meta['base']}` ({meta['arch']}); "
        f"N={meta['n']} fresh containers per image and route, M={meta['m']} warm invocations"
        + (" (--quick)" if meta["quick"] else "")
        + f"; {meta['duration_s']} s. Units: ms; MB = 10^6 bytes.",
        "",
        "Every container runs under the real Lambda emulator (aws-lambda-rie from aws-sam-cli) "
        "with a read-only root, tmpfs /tmp and the host network (PostgreSQL on loopback), "
        "started exactly as `make local` starts it. Rounds are interleaved across images, so "
        "machine noise hits all alike; compare the ratios, not absolute figures.",
        "",
        "## Targets",
        "",
        *targets_table(results),
    ]
    lines += [
        "",
        "## Cold start (min / median / p90, ms)",
        "",
        "`emulator` = INIT REPORT (process start, imports, handler module) + first INVOKE "
        "RTDONE; `wall` = engine asked to start the container → first response received.",
        "",
        "| image | GET /health emulator | wall | GET /projects emulator | wall | "
        "init only (/projects) | peak RSS MB (median) | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, img in results["images"].items():
        h, p = img["cold"]["health"], img["cold"]["projects"]
        lines.append(
            f"| {key} | {_triple(h['emulator_ms'])} | {_triple(h['wall_ms'])} | "
            f"{_triple(p['emulator_ms'])} | {_triple(p['wall_ms'])} | {_triple(p['init_ms'])} | "
            f"{_fmt(p['peak_rss_mb']['median'], 1)} | {h['failures'] + p['failures']} |"
        )
    lines += ratio_table(results)
    lines += round_trip_table(results)
    lines += [
        "",
        "## Warm (through the emulator, client round trip, ms) and memory",
        "",
        "| image | /health p50 | /health p99 | /projects p50 | /projects p99 | "
        "RSS after first requests MB | RSS growth over warm run MB | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, img in results["images"].items():
        w = img["warm"]
        lines.append(
            f"| {key} | {w['health']['p50']:.2f} | {w['health']['p99']:.2f} | "
            f"{w['projects']['p50']:.2f} | {w['projects']['p99']:.2f} | "
            f"{_fmt(w['rss_start_mb'], 1)} | {_fmt(w['rss_growth_mb'], 2)} | "
            f"{_fmt(w['peak_rss_mb'], 1)} |"
        )
    lines += [
        "",
        "## Bytecode, imports and size",
        "",
        "| image | compiled from source (stdlib / other) | import time ms (modules) | "
        "total MB | added MB | added gzip MB | added layers |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, img in results["images"].items():
        b, it, s = img["bytecode"], img["importtime"], img["size"]
        added = [layer for layer in s["layers"] if not layer["in_base"]]
        lines.append(
            f"| {key} | {b['compiled_from_source']} ({b['compiled_stdlib']} / "
            f"{b['compiled_other']}) | {it['total_ms']:.0f} ({it['modules']}) | "
            f"{s['total_bytes'] / MB:.1f} | {s['added_bytes'] / MB:.1f} | "
            f"{s['added_gzip_bytes'] / MB:.1f} | {len(added)} |"
        )
    lines += ["", "### Layers above the base", ""]
    for key, img in results["images"].items():
        lines.append(f"- **{key}** (`{img['tag']}`):")
        for layer in img["size"]["layers"]:
            if not layer["in_base"]:
                lines.append(
                    f"  - {layer['bytes'] / MB:.1f} MB ({layer['gzip_bytes'] / MB:.1f} MB gzip): "
                    f"`{layer['created_by'][:100]}`"
                )
    lines += ["", "### Import time per package (self time, ms, INIT + first /projects)", ""]
    for key, img in results["images"].items():
        top = ", ".join(
            f"{k} {v:.0f}" for k, v in list(img["importtime"]["by_package_ms"].items())[:8]
        )
        lines.append(f"- **{key}**: {top}")
    lines.append("")
    if NEWER_KEY in results["images"] and "project" in results["images"]:
        lines += python_comparison(results)
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> list[str]:
    """The targets, measured value against limit (targets without a measurement left out)."""
    lines = ["| target | measured | limit | met |", "|---|---:|---:|:-:|"]
    for t in results["targets"]:
        if t["value"] is None:
            continue
        met = "yes" if t["met"] else "**no**"
        unit = "x" if t["unit"] == "ratio" else ("" if t["unit"] == "count" else f" {t['unit']}")
        lines.append(
            f"| {t['target']} | {_fmt(t['value'], 2)}{unit} | {t['limit']}{unit} | {met} |"
        )
    return lines


DOCS_BEGIN = "<!-- bench:begin (written by bench/coldstart.py from its run; do not edit) -->"
DOCS_END = "<!-- bench:end -->"


def docs_block(results: dict[str, Any]) -> str:
    """What docs/benchmark.md shows of a run, between DOCS_BEGIN and DOCS_END."""
    meta = results["meta"]
    m = meta["machine"]
    ref = f"; `project-ref` is `{meta['ref']}`" if meta.get("ref") else ""
    lines = [
        DOCS_BEGIN,
        "",
        f"Last run: {meta['date'][:10]}, {m['cpu']}, {m['cores']} shared cores, {m['os']}, "
        f"{m['engine']}, base `{meta['base']}`; N={meta['n']} fresh containers per image, "
        f"link and route, M={meta['m']} warm invocations{ref}. Every figure: "
        "[`bench/results/latest.md`](../bench/results/latest.md).",
        "",
        *targets_table(results),
        *ratio_table(results),
        *round_trip_table(results),
        "",
        DOCS_END,
    ]
    return "\n".join(lines)


def replace_docs_block(text: str, block: str) -> str:
    """`text` with its generated block replaced by `block` (ValueError if it has none)."""
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < start:
        raise ValueError("no generated bench block in the document")
    return text[:start] + block + text[end + len(DOCS_END) :]


def ratio_table(results: dict[str, Any]) -> list[str]:
    """Each app column's cold medians as multiples of the dependency floor's, same run."""
    floor = results["images"].get("depfloor")
    if floor is None:
        return []
    lines = [
        "",
        "## Cold start against the dependency floor (medians, emulator figure, same run)",
        "",
        "`+prod`: the production-like database link (PostgreSQL with TLS verify-full against a "
        "CA the bench makes, 1 ms per round trip through a delay proxy, RDS IAM auth as the "
        "function does it on AWS). `project-ref`: the project at the commit named in the run's "
        "meta, built by that commit's own scripts.",
        "",
        "Per-round ratio: each round starts every image within seconds, so the ratio of two "
        "samples of one round cancels the machine's drifting load; its median and interquartile "
        "range (p25-p75) across rounds are the figures to compare. The ratio of medians beside "
        "it mixes rounds run under different loads.",
        "",
        "CPU: the function process's CPU time (user + system, every thread) from its start to "
        "the first response, which a busy machine hardly changes (waiting for a core is not "
        "charged); it leaves out waiting for the database, which the emulator figures include.",
        "",
        "| image | GET /health median ms | per-round x floor (p25-p75) | GET /projects median ms "
        "| per-round x floor (p25-p75) | x floor, ratio of medians | CPU ms /projects | "
        "CPU x floor (per round) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = {
        route: floor["cold"][route]["emulator_ms"]["median"] for route in ("health", "projects")
    }

    def spread(key: str, route: str, metric: str = "emulator_ms") -> str:
        summary = paired_summary(paired(results, key, route, metric=metric))
        if summary is None:
            return "-"
        return f"{summary['median']:.2f} ({summary['p25']:.2f}-{summary['p75']:.2f})"

    for key, img in results["images"].items():
        if not key.startswith("project"):
            continue
        h = img["cold"]["health"]["emulator_ms"]["median"]
        p = img["cold"]["projects"]["emulator_ms"]["median"]
        cpu = (img["cold"]["projects"].get("cpu_ms") or {}).get("median")
        lines.append(
            f"| {key} | {_fmt(h)} | {spread(key, 'health')} | {_fmt(p)} | "
            f"{spread(key, 'projects')} | {_fmt(_ratio(p, base['projects']), 2)} | "
            f"{_fmt(cpu)} | {spread(key, 'projects', 'cpu_ms')} | "
            f"{_fmt(img['cold']['projects']['peak_rss_mb']['median'], 1)} |"
        )
    lines.append(
        f"\nThe floor itself: GET /health {_fmt(base['health'])} ms, GET /projects "
        f"{_fmt(base['projects'])} ms."
    )
    return lines


def round_trip_table(results: dict[str, Any]) -> list[str]:
    """Database round trips over the production-like link, counted by the delay proxy."""
    rows = [(k, i) for k, i in results["images"].items() if i.get("link") == "production"]
    if not rows:
        return []
    lines = [
        "",
        "## Database round trips (production-like link, counted by the delay proxy)",
        "",
        "A round trip is one client turn (the function sends after the server has answered), "
        "TLS handshake included. Cold: from container start to the first response (INIT and "
        "the first request, connections opened in brackets); warm: one request on a warm "
        "environment (median of 5).",
        "",
        "| image | cold GET /health | cold GET /projects | warm GET /health | "
        "warm GET /projects | warm GET /projects/{slug} | first /projects adds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, img in rows:
        cold = {r: img["cold"][r] for r in ("health", "projects")}
        warm = img["warm"].get("round_trips", {})

        def c(route: str, cold: dict[str, Any] = cold) -> str:
            trips, conns = cold[route]["round_trips"], cold[route]["connections"]
            return f"{_fmt(trips['median'])} ({_fmt(conns['median'])})"

        def w(route: str, warm: dict[str, Any] = warm) -> str:
            return _fmt(warm.get(route, {}).get("median"))

        cold_p = cold["projects"]["round_trips"]["median"]
        warm_p = warm.get("projects", {}).get("median")
        adds = None if cold_p is None or warm_p is None else cold_p - warm_p
        lines.append(
            f"| {key} | {c('health')} | {c('projects')} | {w('health')} | {w('projects')} | "
            f"{w('project')} | {_fmt(adds)} |"
        )
    return lines


def python_comparison(results: dict[str, Any]) -> list[str]:
    """Python 3.11 against the newer interpreter: the project image on each, same run."""
    meta = results["meta"]
    bases, versions = meta.get("bases", {}), meta.get("python", {})
    old, new = results["images"]["project"], results["images"][NEWER_KEY]

    def label(key: str) -> str:
        base = bases.get(key, meta["base"])
        return f"`{key}` (Python {versions.get(base, '?')}, base `{base}`)"

    def cold(img: dict[str, Any], route: str, metric: str) -> float | None:
        return img["cold"][route][metric]["median"]

    def mb(value: int | None) -> float | None:
        return None if value is None else value / MB

    rows: list[tuple[str, float | None, float | None, int]] = [
        (
            "cold GET /health, emulator (median ms)",
            *(cold(i, "health", "emulator_ms") for i in (old, new)),
            0,
        ),
        (
            "cold GET /health, wall (median ms)",
            *(cold(i, "health", "wall_ms") for i in (old, new)),
            0,
        ),
        (
            "cold GET /projects, emulator (median ms)",
            *(cold(i, "projects", "emulator_ms") for i in (old, new)),
            0,
        ),
        (
            "cold GET /projects, wall (median ms)",
            *(cold(i, "projects", "wall_ms") for i in (old, new)),
            0,
        ),
        (
            "cold GET /projects, init only (median ms)",
            *(cold(i, "projects", "init_ms") for i in (old, new)),
            0,
        ),
        (
            "cold GET /projects, first invoke (median ms)",
            *(cold(i, "projects", "first_invoke_ms") for i in (old, new)),
            1,
        ),
        (
            "warm GET /health p50 (ms)",
            old["warm"]["health"]["p50"],
            new["warm"]["health"]["p50"],
            2,
        ),
        (
            "warm GET /projects p50 (ms)",
            old["warm"]["projects"]["p50"],
            new["warm"]["projects"]["p50"],
            2,
        ),
        (
            "peak RSS after first /projects (median MB)",
            *(cold(i, "projects", "peak_rss_mb") for i in (old, new)),
            1,
        ),
        ("peak RSS after warm run (MB)", old["warm"]["peak_rss_mb"], new["warm"]["peak_rss_mb"], 1),
        (
            "added bytes above its base (MB)",
            mb(old["size"]["added_bytes"]),
            mb(new["size"]["added_bytes"]),
            1,
        ),
        (
            "added bytes above its base, gzip (MB)",
            mb(old["size"]["added_gzip_bytes"]),
            mb(new["size"]["added_gzip_bytes"]),
            1,
        ),
        (
            "import time, INIT + first /projects (ms)",
            old["importtime"]["total_ms"],
            new["importtime"]["total_ms"],
            0,
        ),
        (
            "modules compiled from source",
            old["bytecode"]["compiled_from_source"],
            new["bytecode"]["compiled_from_source"],
            0,
        ),
    ]
    lines = [
        "## Python 3.11 against a newer Python (project image, same run)",
        "",
        f"3.11: {label('project')}; newer: {label(NEWER_KEY)}. Same Dockerfile and "
        "requirements.txt; each image's added bytes are measured above its own base.",
        "",
        "| metric | 3.11 | newer | newer / 3.11 |",
        "|---|---:|---:|---:|",
    ]
    for name, a, b, digits in rows:
        lines.append(
            f"| {name} | {_fmt(a, digits)} | {_fmt(b, digits)} | {_fmt(_ratio(b, a), 2)} |"
        )
    cold_ratios = [
        _ratio(cold(new, route, metric), cold(old, route, metric))
        for route in ("health", "projects")
        for metric in ("emulator_ms", "wall_ms")
    ]
    measured = [r for r in cold_ratios if r is not None]
    if len(measured) < len(cold_ratios):
        verdict = "Not every cold-start figure was measured: no verdict."
    elif max(measured) <= MATERIAL:
        verdict = (
            f"The newer interpreter starts materially faster: its median cold starts are "
            f"{min(measured):.2f}-{max(measured):.2f} x those of 3.11 (emulator and wall, both "
            f"routes; threshold {MATERIAL:.2f})."
        )
    else:
        verdict = (
            f"The newer interpreter does not start materially faster here: its median cold starts "
            f"are {min(measured):.2f}-{max(measured):.2f} x those of 3.11 (emulator and wall, both "
            f"routes; 'materially' means all four <= {MATERIAL:.2f})."
        )
    return [*lines, "", verdict, ""]
