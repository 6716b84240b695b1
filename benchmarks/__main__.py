"""`python -m benchmarks [--messages N] [--rounds R]`: run every benchmark on embedded servers."""

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import ingest_throughput, query_latency
from services.runtime.embedded import EmbeddedServers

console = Console()


async def main(messages: int, rounds: int, requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="one-bench-") as data:
        async with EmbeddedServers(Path(data)) as servers:
            runs: dict[int, list[ingest_throughput.Run]] = {256: [], 1: []}
            for round_ in range(rounds):
                # ABBA order: the server slows as data accumulates, so each configuration
                # runs first in half of the rounds and neither carries the drift alone.
                for batch_size in (256, 1) if round_ % 2 == 0 else (1, 256):
                    run = await ingest_throughput.run_once(
                        servers.nats_url,
                        servers.mongodb_uri,
                        batch_size,
                        messages,
                        f"{batch_size}_{round_}",
                    )
                    runs[batch_size].append(run)
                    console.print(
                        f"  ingest batch={batch_size} round {round_}: {run.per_second:.0f} msg/s"
                    )
            table = Table(
                title=f"Ingest drain throughput, {messages} mixed messages, {rounds} rounds"
            )
            table.add_column("pipeline")
            table.add_column("median msg/s", justify="right")
            table.add_column("median s", justify="right")
            table.add_column("peak traced MiB", justify="right")
            medians = {}
            for batch_size, label in ((256, "batched (256)"), (1, "one at a time (baseline)")):
                medians[batch_size] = statistics.median(r.per_second for r in runs[batch_size])
                table.add_row(
                    label,
                    f"{medians[batch_size]:.0f}",
                    f"{statistics.median(r.seconds for r in runs[batch_size]):.2f}",
                    f"{statistics.median(r.peak_traced_mib for r in runs[batch_size]):.1f}",
                )
            console.print(table)
            console.print(
                f"batched / baseline throughput ratio: [bold]{medians[256] / medians[1]:.1f}x[/]"
            )

            bus, direct = await query_latency.run(
                servers.nats_url, servers.mongodb_uri, "bench_256_0", requests
            )
            table = Table(title=f"Lookup latency, {requests} sequential requests")
            table.add_column("path")
            table.add_column("median ms", justify="right")
            table.add_column("p99 ms", justify="right")
            for latencies in (bus, direct):
                table.add_row(latencies.name, f"{latencies.median:.2f}", f"{latencies.p99:.2f}")
            console.print(table)
            console.print(
                f"bus / direct median latency ratio: [bold]{bus.median / direct.median:.1f}x[/]"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds, arguments.requests))
