"""What "acknowledged means durable" costs: batched ingest with and without it, same run.

`python -m benchmarks.durability_cost [--messages N] [--rounds R]`. Durable is the default
configuration (writes with `j: true`, SecantusDB with `--sync-on-commit`: a commit is on
disk before it is acknowledged); the other drops both, which loses acknowledged writes
when the store is killed (tests/faults/test_store_killed.py). Each configuration has its
own embedded servers; rounds alternate (ABBA) so that drift hits both; medians reported.
"""

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import ingest_throughput
from services.runtime.embedded import EmbeddedServers
from services.settings import Settings

console = Console()


async def main(messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="one-bench-") as data:
        async with (
            EmbeddedServers(Path(data) / "durable") as durable,
            EmbeddedServers(Path(data) / "fast", sync_on_commit=False) as fast,
        ):
            runs: dict[str, list[float]] = {"durable": [], "not durable": []}
            for round_ in range(rounds):
                order = (
                    ("durable", "not durable") if round_ % 2 == 0 else ("not durable", "durable")
                )
                for name in order:
                    servers, journal = (durable, True) if name == "durable" else (fast, False)
                    run = await ingest_throughput.run_once(
                        servers.nats_url, servers.mongodb_uri, Settings().batch_size, messages,
                        f"durability_{round_}", journal=journal,
                    )  # fmt: skip
                    runs[name].append(run.per_second)
                    console.print(f"  {name} round {round_}: {run.per_second:.0f} msg/s")
    table = Table(title=f"Batched ingest, {messages} mixed messages, {rounds} rounds (ABBA)")
    table.add_column("configuration")
    table.add_column("median msg/s", justify="right")
    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name, median in medians.items():
        table.add_row(name, f"{median:.0f}")
    console.print(table)
    console.print(
        f"durable / not durable: [bold]{medians['durable'] / medians['not durable']:.2f}[/]"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds))
