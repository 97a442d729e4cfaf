"""`bench/paused.py` (the paused-database row of `make bench`), run once per state: the
paused visits are answered from the snapshot and the outbox, the awake ones from the database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import paused  # noqa: E402

pytestmark = pytest.mark.slow  # fresh interpreters and a stopped PostgreSQL server


def test_one_visit_per_state_writes_the_row(tmp_path: Path) -> None:
    assert paused.main(["-n", "1", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "paused.json").read_text())
    awake, away = results["awake"]["routes"], results["paused"]["routes"]
    assert [awake[r]["statuses"] for r in paused.ROUTES] == [[200], [200], [202]]
    assert [away[r]["statuses"] for r in paused.ROUTES] == [[200], [200], [202]]
    assert [awake[r]["sources"] for r in paused.ROUTES[:2]] == [["database"], ["database"]]
    assert [away[r]["sources"] for r in paused.ROUTES[:2]] == [["snapshot"], ["snapshot"]]
    report = (tmp_path / "paused.md").read_text()
    assert "| GET /projects (1st request) |" in report
    assert "from snapshot" in report
