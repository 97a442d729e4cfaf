"""Untimed probes of a cold start: which modules are compiled from source, and what imports cost.

Each probe is one more fresh container, run exactly as the timed ones, with one of Python's
own switches set in its environment (PYTHONVERBOSE is `python -v`, PYTHONPROFILEIMPORTTIME is
`python -X importtime`), covering INIT and the first DB-backed request.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import emulator

# `python -v` prints `# code object from /x.py` (unquoted) for a module compiled from source and
# `# code object from '/__pycache__/x.pyc'` (quoted) for one loaded from bytecode.
CODE_FROM_SOURCE = re.compile(r"^# code object from (\S+\.py)\s*$", re.MULTILINE)
STALE = re.compile(r"# bytecode is stale for '([^']+)'")
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _run(
    tag: str, name: str, port: int, db: str, arch: str, env: dict[str, str], event: bytes
) -> str:
    box = emulator.start(tag, name, port, db, arch, extra_env=env)
    try:
        status, _ = box.invoke(event)
        if status != 200:
            raise RuntimeError(f"{tag}: probe invocation answered HTTP {status}")
        return box.logs()
    finally:
        box.stop()


def compiled_modules(tag: str, port: int, db: str, arch: str, event: bytes) -> dict[str, Any]:
    """Modules compiled from source during INIT and the first request (zero is the target)."""
    logs = _run(tag, "bench-probe-v", port, db, arch, {"PYTHONVERBOSE": "1"}, event)
    compiled = CODE_FROM_SOURCE.findall(logs)
    stdlib = [path for path in compiled if "/site-packages/" not in path and "/.local/" not in path]
    return {
        "compiled_from_source": len(compiled),
        "compiled_stdlib": len(stdlib),
        "compiled_other": len(compiled) - len(stdlib),
        "stale_bytecode": len(STALE.findall(logs)),
        "examples": compiled[:10],
    }


def parse_importtime(text: str) -> list[dict[str, Any]]:
    """The `-X importtime` lines, in the order Python printed them (children before parents)."""
    rows = []
    for match in IMPORTTIME.finditer(text):
        self_us, cumulative_us, indent, module = match.groups()
        rows.append(
            {
                "module": module,
                "self_us": int(self_us),
                "cumulative_us": int(cumulative_us),
                "depth": (len(indent) - 1) // 2,
            }
        )
    return rows


def summarize_importtime(rows: list[dict[str, Any]], top: int = 15) -> dict[str, Any]:
    """Total import time, and self time summed per top-level package (largest first)."""
    per_package: dict[str, int] = defaultdict(int)
    for row in rows:
        per_package[row["module"].split(".")[0]] += row["self_us"]
    ranked = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)
    return {
        "modules": len(rows),
        "total_ms": round(sum(r["self_us"] for r in rows) / 1000, 1),
        "by_package_ms": {name: round(us / 1000, 1) for name, us in ranked[:top]},
    }


def import_time(tag: str, port: int, db: str, arch: str, event: bytes) -> dict[str, Any]:
    """`-X importtime` over INIT and the first request, summarised per package."""
    logs = _run(tag, "bench-probe-it", port, db, arch, {"PYTHONPROFILEIMPORTTIME": "1"}, event)
    return summarize_importtime(parse_importtime(logs))
