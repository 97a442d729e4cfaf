"""Run a snippet in a fresh interpreter at the repository's root: what a cold start loads and
does is only seen in a process that has imported nothing yet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def fresh_json(code: str, **env: str) -> Any:
    """Run `code` with only PATH and `env` in the environment; the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])
