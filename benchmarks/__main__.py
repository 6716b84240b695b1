"""`python -m benchmarks` (`make bench`): ONE Bus against the raw limits of its servers.

Ingest (events, entity upserts, the mix; one and two ingest processes), store round trips
per message, lookups (one and 64 requesters) and the ingest process's RSS, each against
the plain clients on the same servers in the same run, rounds alternating, medians
reported; then fair queries and watches (benchmarks/query_tenancy.py: one tenant's
latency while another floods the query side, and under its watch churn). Servers:
`ONE_NATS_URL` and `ONE_MONGODB_URI` if set, else embedded ones.
Writes `<out>/bench.json` and `<out>/bench.png`.
"""

import argparse
import asyncio
import datetime
import os
import platform
from pathlib import Path

from rich.console import Console

from benchmarks import ingest, lookups, query_tenancy, report, rss
from benchmarks.servers import servers
from benchmarks.workload import WORKLOADS

console = Console()


async def main(arguments: argparse.Namespace) -> None:
    rounds: list[ingest.IngestRound] = []
    lookup_results: list[lookups.LookupResult] = []
    rss_run: rss.RssRun | None = None
    fair: dict[str, object] | None = None
    workloads = arguments.workloads or list(WORKLOADS)
    async with servers() as running:
        console.print(f"servers: {running.kind} (NATS {running.nats_url})")
        cache: dict[str, dict[str, list[ingest.Document]]] = {}
        lookup_db = None
        for round_ in range(arguments.rounds):
            for workload in workloads:
                for processes in arguments.processes:
                    keep = workload == "mix" and processes == 1 and round_ == arguments.rounds - 1
                    result = await ingest.run_round(
                        running, workload, processes, round_, arguments.messages, cache, keep=keep
                    )
                    if keep:
                        lookup_db = f"bench_mix_1_{round_}"
                    rounds.append(result)
                    console.print(
                        f"  round {round_} {workload} x{processes}: ONE Bus "
                        f"{result.bus_per_s:.0f}/s, raw NATS {result.nats_per_s:.0f}/s, raw "
                        f"store {result.store_per_s:.0f}/s → {result.efficiency:.2f}; "
                        f"{result.round_trips_per_message:.4f} store trips/msg"
                    )
        if arguments.requests and lookup_db is not None:
            lookup_results = await lookups.run(running, lookup_db, arguments.requests)
        if arguments.rss_messages:
            rss_run = await rss.run(running, arguments.rss_messages)
        if arguments.fair_flooders:
            fair = await query_tenancy.run(running, arguments)
        kind = running.kind
    ingest_rows = report.ingest_summary(rounds)
    lookup_rows = report.lookup_summary(lookup_results)
    report.print_tables(ingest_rows, lookup_rows, rss_run)
    if fair is not None:
        query_tenancy.print_report(fair)
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, after the measurements)
    meta = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "servers": kind,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "arguments": vars(arguments),
    }
    report.write_json(
        out / "bench.json", meta, rounds, ingest_rows, lookup_rows, rss_run, query_tenancy=fair
    )
    report.plot(out / "bench.png", ingest_rows, lookup_rows, rss_run)
    console.print(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="per ingest round")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA: even counts balance")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--requests", type=int, default=300, help="per lookup; 0 skips")
    parser.add_argument(
        "--rss-messages", type=int, default=10_000, help="sustained run; 0 skips (100000: full)"
    )
    parser.add_argument("--out", default="bench-out")
    query_tenancy.add_arguments(parser)
    asyncio.run(main(parser.parse_args()))
