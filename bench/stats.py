"""Order statistics for noisy samples: min, median, p90 (cold starts) and p50, p99 (warm)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """min / median / p90 / max and the count of the values that were measured."""
    present = [v for v in values if v is not None]
    if not present:
        return {"n": 0, "min": None, "median": None, "p90": None, "max": None}
    return {
        "n": len(present),
        "min": round(min(present), 2),
        "median": round(percentile(present, 50), 2),
        "p90": round(percentile(present, 90), 2),
        "max": round(max(present), 2),
    }


def latency(values: Sequence[float]) -> dict[str, float | int]:
    """p50 / p99 (and the mean) of warm latencies, in ms."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p99": round(percentile(values, 99), 3),
        "mean": round(sum(values) / len(values), 3) if values else math.nan,
    }
