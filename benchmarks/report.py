"""The benchmark's table (printed), JSON and PNG plot."""

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.ingest import IngestRound
from benchmarks.lookups import LookupResult
from benchmarks.rss import RssRun

console = Console(width=150)


def ingest_summary(rounds: Sequence[IngestRound]) -> list[dict[str, Any]]:
    """Medians per (workload, processes); efficiency is the median of each round's own."""
    groups: dict[tuple[str, int], list[IngestRound]] = {}
    for r in rounds:
        groups.setdefault((r.workload, r.processes), []).append(r)
    return [
        {
            "workload": workload,
            "processes": processes,
            "rounds": len(runs),
            "bus_per_s": statistics.median(r.bus_per_s for r in runs),
            "nats_per_s": statistics.median(r.nats_per_s for r in runs),
            "store_per_s": statistics.median(r.store_per_s for r in runs),
            "efficiency": statistics.median(r.efficiency for r in runs),
            "efficiencies": [round(r.efficiency, 3) for r in runs],
            "round_trips_per_message": statistics.median(r.round_trips_per_message for r in runs),
            "store_seconds_per_1000": _store_seconds_per_1000(runs),
        }
        for (workload, processes), runs in groups.items()
    ]


def _store_seconds_per_1000(runs: Sequence[IngestRound]) -> dict[str, float]:
    """The store's time per 1,000 messages by kind of command, median over rounds,
    biggest first."""
    kinds = {kind for r in runs for kind in r.store_seconds}
    medians = {
        kind: statistics.median(1000 * r.store_seconds.get(kind, 0.0) / r.messages for r in runs)
        for kind in kinds
    }
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def lookup_summary(results: Sequence[LookupResult]) -> list[dict[str, Any]]:
    return [
        {
            "query": r.query,
            "bus_p50_ms": r.bus.p50,
            "bus_p99_ms": r.bus.p99,
            "nats_p50_ms": r.nats.p50,
            "nats_p99_ms": r.nats.p99,
            "read_p50_ms": r.read.p50,
            "read_p99_ms": r.read.p99,
            "p50_ratio": r.p50_ratio,
            "p99_ratio": r.p99_ratio,
            "bus_64_p50_ms": r.bus_concurrent.p50,
            "bus_64_p99_ms": r.bus_concurrent.p99,
            "read_64_p50_ms": r.read_concurrent.p50,
            "bus_64_per_s": r.bus_concurrent_per_s,
            "read_64_per_s": r.read_concurrent_per_s,
            "concurrent_ratio": r.concurrent_ratio,
        }
        for r in results
    ]


def print_tables(
    ingest: list[dict[str, Any]], lookups: list[dict[str, Any]], rss: RssRun | None
) -> None:
    if ingest:
        table = Table(title="Ingest: records/s (medians) against the raw limits, same run")
        for column in (
            "workload", "proc", "ONE Bus /s", "raw NATS /s", "raw store /s",
            "efficiency", "per round", "store trips/msg",
        ):  # fmt: skip
            table.add_column(column, justify="left" if column == "workload" else "right")
        for row in ingest:
            table.add_row(
                row["workload"],
                str(row["processes"]),
                f"{row['bus_per_s']:.0f}",
                f"{row['nats_per_s']:.0f}",
                f"{row['store_per_s']:.0f}",
                f"{row['efficiency']:.2f}",
                " ".join(f"{e:.2f}" for e in row["efficiencies"]),
                f"{row['round_trips_per_message']:.4f}",
            )
        console.print(table)
        # One process sends one command at a time, so its commands' times add up to the
        # store's; two processes' overlap.
        table = Table(title="Where the store's time went, one ingest process: s per 1,000 messages")
        for column in ("workload", "raw store", "ONE Bus", "ONE Bus by command"):
            table.add_column(column)
        for row in ingest:
            if row["processes"] != 1:
                continue
            by_command = row["store_seconds_per_1000"]
            table.add_row(
                row["workload"],
                f"{1000 / row['store_per_s']:.2f}",
                f"{sum(by_command.values()):.2f}",
                ", ".join(f"{kind} {spent:.2f}" for kind, spent in by_command.items()),
            )
        console.print(table)
    if lookups:
        table = Table(title="Lookups: ONE Bus against a NATS round trip + the plain read (ms)")
        for column in (
            "query", "p50", "p99", "NATS p50", "read p50", "p50 ratio", "p99 ratio",
            "64: ONE Bus /s", "64: read /s", "64 ratio",
        ):  # fmt: skip
            table.add_column(column, justify="left" if column == "query" else "right")
        for row in lookups:
            table.add_row(
                row["query"],
                f"{row['bus_p50_ms']:.2f}",
                f"{row['bus_p99_ms']:.2f}",
                f"{row['nats_p50_ms']:.2f}",
                f"{row['read_p50_ms']:.2f}",
                f"{row['p50_ratio']:.2f}",
                f"{row['p99_ratio']:.2f}",
                f"{row['bus_64_per_s']:.0f}",
                f"{row['read_64_per_s']:.0f}",
                f"{row['concurrent_ratio']:.2f}",
            )
        console.print(table)
    if rss is not None and rss.after_warm_up:
        steady = rss.after_warm_up
        console.print(
            f"Ingest RSS over {rss.messages} messages ({rss.seconds:.0f} s): "
            f"{steady[0]:.1f} → {steady[-1]:.1f} MiB after warm-up, growth "
            f"{rss.growth:+.1%}, spread {rss.spread:.1%}"
        )


def write_json(
    path: Path,
    meta: dict[str, Any],
    rounds: Sequence[IngestRound],
    ingest: list[dict[str, Any]],
    lookups: list[dict[str, Any]],
    rss: RssRun | None,
    **sections: Any,
) -> None:
    """`sections`: the other parts of the run (`outcomes`, `tenancy`, `cpu`,
    `query_tenancy`), each under its own key (None: not run)."""
    document = {
        "meta": meta,
        "ingest": ingest,
        "ingest_rounds": [asdict(r) for r in rounds],
        "lookups": lookups,
        "rss": None
        if rss is None
        else {
            "messages": rss.messages,
            "seconds": rss.seconds,
            "growth": rss.growth,
            "spread": rss.spread,
            "samples": rss.samples,
        },
        **sections,
    }
    path.write_text(json.dumps(document, indent=2))


def plot(
    path: Path, ingest: list[dict[str, Any]], lookups: list[dict[str, Any]], rss: RssRun | None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    left, middle, right = axes
    labels = [f"{r['workload'].replace(' ', chr(10))}\nx{r['processes']}" for r in ingest]
    left.bar(labels, [r["efficiency"] for r in ingest], color="tab:blue")
    left.axhline(0.8, color="tab:red", linestyle="--", label="target 0.8")
    left.set_ylim(0, 1.1)
    left.set_title("Ingest ÷ raw limit (median)")
    left.legend(loc="upper right", fontsize=8)
    left.tick_params(axis="x", labelsize=8)

    names = [r["query"] for r in lookups]
    xs = range(len(names))
    p50 = [r["p50_ratio"] for r in lookups]
    concurrent = [r["concurrent_ratio"] for r in lookups]
    middle.bar([x - 0.2 for x in xs], p50, 0.4, label="p50 ÷ (NATS + read)")
    middle.bar([x + 0.2 for x in xs], concurrent, 0.4, label="64 requesters: /s ÷ read /s")
    middle.axhline(1.3, color="tab:red", linestyle="--", linewidth=1)
    middle.axhline(0.7, color="tab:green", linestyle="--", linewidth=1)
    middle.set_xticks(list(xs), names, fontsize=8)
    middle.set_yscale("log")
    ticks = [0.25, 0.5, 1, 2, 4, 8]
    middle.set_yticks(ticks, [f"{t:g}" for t in ticks])
    middle.minorticks_off()
    middle.set_title("Lookups: targets p50 ≤ 1.3, 64 ≥ 0.7", fontsize=10)
    middle.legend(fontsize=8)

    if rss is not None:
        right.plot([acked for _, acked, _ in rss.samples], [m for _, _, m in rss.samples])
        right.set_xlabel("messages acked")
        right.set_ylabel("RSS MiB")
        right.set_ylim(bottom=0)
        right.set_title("Ingest process RSS")
    else:
        right.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
