"""The issue's targets, evaluated on one run's results, and the markdown report.

Cold-start ratios compare medians of the emulator's own figures (INIT REPORT + first
INVOKE RTDONE) measured in the same interleaved run; wall time is reported beside them.
"""

from __future__ import annotations

from typing import Any

MB = 1_000_000


def _get(results: dict[str, Any], key: str, *path: str) -> Any:
    node: Any = results["images"].get(key)
    for part in path:
        if node is None:
            return None
        node = node.get(part)
    return node


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of the issue: measured value, limit, and whether it is met."""

    def cold(key: str) -> float | None:
        return _get(results, key, "cold", "projects", "emulator_ms", "median")

    project_cold = cold("project")
    size_added = _get(results, "project", "size", "added_bytes")
    size_gzip = _get(results, "project", "size", "added_gzip_bytes")
    rows = [
        (
            "cold DB-backed GET /projects / dependency floor (median)",
            "ratio",
            _ratio(project_cold, cold("depfloor")),
            1.00,
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
            70.0,
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
        "| target | measured | limit | met |",
        "|---|---:|---:|:-:|",
    ]
    for t in results["targets"]:
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        unit = "x" if t["unit"] == "ratio" else ("" if t["unit"] == "count" else f" {t['unit']}")
        lines.append(
            f"| {t['target']} | {_fmt(t['value'], 2)}{unit} | {t['limit']}{unit} | {met} |"
        )
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
    return "\n".join(lines)
