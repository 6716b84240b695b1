"""`python -m benchmarks` (`make bench`): ONE Bus against the raw limits of its servers.

Ingest (events, entity upserts, the mix; one and two ingest processes), store round trips
per message, lookups (one and 64 requesters), the ingest process's RSS, write outcomes
with read-your-writes (benchmarks/outcomes.py), and CPU per message and per lookup with
the ingest scale-out (benchmarks/cpu.py), each against the plain clients on the same
servers in the same run, rounds alternating, medians reported; tenancy
(benchmarks/fair_ingest.py): other tenants' write latency while one tenant's backlog
drains, and that drain against draining alone; fair queries and watches
(benchmarks/query_tenancy.py: one tenant's latency while another floods the query side,
and under its watch churn). Servers: `ONE_NATS_URL` and `ONE_MONGODB_URI` if set, else
embedded ones.
Writes `<out>/bench.json` and `<out>/bench.png`.
"""

import argparse
import asyncio
import datetime
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import cpu, fair_ingest, ingest, lookups, outcomes, query_tenancy, report, rss
from benchmarks.servers import servers
from benchmarks.workload import WORKLOADS

console = Console()


async def main(arguments: argparse.Namespace) -> None:
    rounds: list[ingest.IngestRound] = []
    lookup_results: list[lookups.LookupResult] = []
    rss_run: rss.RssRun | None = None
    outcome_run: dict[str, Any] | None = None
    tenancy: dict[str, object] = {}
    query_fair: dict[str, object] | None = None
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
        if arguments.outcome_messages:
            outcome_run = await outcomes.run(running, arguments.outcome_messages, arguments.rounds)
        if arguments.tenancy_backlog:
            fair = await fair_ingest.run(
                running, arguments.tenancy_backlog, batch_size=arguments.tenancy_batch_size
            )
            console.print(
                f"  tenancy (batch {fair.batch_size}): backlog {fair.backlog:,}, "
                f"{fair.tenants} tenants x "
                f"{fair.rate_per_tenant:.0f}/s: their writes stored p50 {fair.p50_ms:.0f} ms, "
                f"p99 {fair.p99_ms:.0f} ms ({fair.samples} writes); backlog drained "
                f"{fair.drain_shared_per_s:.0f}/s with them, {fair.drain_alone_per_s:.0f}/s "
                f"alone ({fair.drain_ratio:.2f}x)"
            )
            tenancy["ingest"] = fair.as_dict()
        cpu_document = None
        if arguments.cpu_messages:
            cpu_run = await cpu.run(
                running,
                workloads,
                arguments.cpu_processes,
                arguments.cpu_messages,
                arguments.cpu_rounds,
                arguments.cpu_requests,
                arguments.cpu_profile,
            )
            cpu_document = cpu.summary(cpu_run)
        if arguments.fair_flooders:
            query_fair = await query_tenancy.run(running, arguments)
        kind = running.kind
    ingest_rows = report.ingest_summary(rounds)
    lookup_rows = report.lookup_summary(lookup_results)
    report.print_tables(ingest_rows, lookup_rows, rss_run)
    if outcome_run is not None:
        outcomes.print_table(outcome_run)
    if cpu_document is not None:
        cpu.print_tables(cpu_document)
    if query_fair is not None:
        query_tenancy.print_report(query_fair)
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
        out / "bench.json",
        meta,
        rounds,
        ingest_rows,
        lookup_rows,
        rss_run,
        outcomes=outcome_run,
        tenancy=tenancy,
        cpu=cpu_document,
        query_tenancy=query_fair,
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
    parser.add_argument(
        "--outcome-messages", type=int, default=2000, help="outcomes section (0 skips)"
    )
    parser.add_argument(
        "--tenancy-backlog",
        type=int,
        default=100_000,
        help="one tenant's backlog while ten others write 20/s each; 0 skips",
    )
    parser.add_argument(
        "--tenancy-batch-size", type=int, default=512, help="ONE_BATCH_SIZE of that run"
    )
    parser.add_argument("--out", default="bench-out")
    cpu.add_arguments(parser)
    query_tenancy.add_arguments(parser)
    asyncio.run(main(parser.parse_args()))
