"""The PNG docs/benchmark.md shows: cold start, warm latency and added size of each image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MB = 1_000_000


def render(results: dict[str, Any], path: Path) -> None:
    """Three panels: cold start (median, min-p90 whiskers), warm p50/p99, added MB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(results["images"])
    imgs = [results["images"][k] for k in keys]
    x = range(len(keys))
    fig, (ax_cold, ax_warm, ax_size) = plt.subplots(1, 3, figsize=(15, 4.8))

    width = 0.38
    for offset, route, color in (
        (-width / 2, "health", "#4C72B0"),
        (width / 2, "projects", "#DD8452"),
    ):
        med = [i["cold"][route]["emulator_ms"]["median"] or 0 for i in imgs]
        low = [
            m - (i["cold"][route]["emulator_ms"]["min"] or 0)
            for m, i in zip(med, imgs, strict=True)
        ]
        high = [
            (i["cold"][route]["emulator_ms"]["p90"] or 0) - m
            for m, i in zip(med, imgs, strict=True)
        ]
        ax_cold.bar(
            [p + offset for p in x],
            med,
            width,
            yerr=[low, high],
            capsize=3,
            label=f"GET /{route}",
            color=color,
        )
        wall = [i["cold"][route]["wall_ms"]["median"] or 0 for i in imgs]
        ax_cold.scatter(
            [p + offset for p in x],
            wall,
            marker="_",
            s=300,
            color="black",
            zorder=3,
            label="wall (median)" if route == "health" else None,
        )
    ax_cold.set_title("Cold start (emulator: init + first invoke)")
    ax_cold.set_ylabel("ms (median, whiskers min-p90)")

    for offset, q, color in ((-width / 2, "p50", "#55A868"), (width / 2, "p99", "#C44E52")):
        ax_warm.bar(
            [p + offset for p in x],
            [i["warm"]["health"][q] for i in imgs],
            width,
            label=f"/health {q}",
            color=color,
        )
    ax_warm.set_title("Warm GET /health through the emulator")
    ax_warm.set_ylabel("ms")

    for offset, field, label, color in (
        (-width / 2, "added_bytes", "uncompressed", "#8172B3"),
        (width / 2, "added_gzip_bytes", "gzip", "#937860"),
    ):
        ax_size.bar(
            [p + offset for p in x],
            [i["size"][field] / MB for i in imgs],
            width,
            label=label,
            color=color,
        )
    ax_size.axhline(65, color="#8172B3", linestyle=":", linewidth=1)
    ax_size.axhline(20, color="#937860", linestyle=":", linewidth=1)
    ax_size.set_title("Bytes added above the base (targets dotted)")
    ax_size.set_ylabel("MB")

    for ax in (ax_cold, ax_warm, ax_size):
        ax.set_xticks(list(x), keys)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    meta = results["meta"]
    fig.suptitle(
        f"portfolio-backend cold-start bench, {meta['date'][:10]}, "
        f"{meta['machine']['cores']} cores, N={meta['n']}, M={meta['m']}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
