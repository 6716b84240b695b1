"""Write outcomes and read-your-writes: what asking costs (`python -m benchmarks.outcomes`).

- Ingest throughput with and without outcomes: the mix workload is published first, every
  message asking for its outcome (`One-Outcome-To`, an inbox the publisher listens on) or
  none, then one ingest process drains it; records per second from the first store write
  to the last, rounds alternating which goes first. With outcomes, every answer is counted.
- Publish → outcome latency, one publisher and 64 concurrent ones, beside the same publish
  without asking, timed to the change ingest publishes for it (a core subscription to the
  tenant's changes): the JetStream publish plus the ingest write, the earliest moment a
  write can be seen at all.
- `entities.get` with `after` (the sequence of a write already done) beside the same query
  without, and a publish followed by a read with its `after` (read-your-writes).

Ingest and query run in their own processes (service_process.py), as in production.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from rich.console import Console
from rich.table import Table

from benchmarks.ingest import run_bus, service_env
from benchmarks.processes import service_processes
from benchmarks.servers import Servers, servers
from benchmarks.streams import fresh_streams
from benchmarks.workload import messages
from contracts.errors import TIMEOUT_HEADER
from contracts.outcomes import OUTCOME_TO_HEADER
from contracts.subjects import change_subject, entity_subject, query_subject
from services.settings import Settings

console = Console()
TENANT = "bench"
CONCURRENT = 64


@dataclass(frozen=True, slots=True)
class Throughput:
    round: int
    outcomes: bool
    per_s: float
    answered: int


@dataclass(frozen=True, slots=True)
class Latency:
    what: str
    publishers: int
    samples: int
    p50_ms: float
    p99_ms: float


def _settings(running: Servers, database: str) -> Settings:
    return Settings(
        nats_url=running.nats_url,
        mongodb_uri=running.mongodb_uri,
        mongodb_db=database,
    )


def _percentiles(what: str, publishers: int, seconds: list[float]) -> Latency:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Latency(what, publishers, len(ordered), statistics.median(ordered) * 1e3, p99 * 1e3)


async def throughput_round(running: Servers, count: int, round_: int, asking: bool) -> Throughput:
    settings = _settings(running, f"bench_outcomes_{round_}_{int(asking)}")
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    await fresh_streams(js, settings)
    inbox = client.new_inbox()
    answered = 0
    all_answered = asyncio.Event()

    async def answer(_: Msg) -> None:
        nonlocal answered
        answered += 1
        if answered == count:
            all_answered.set()

    await client.subscribe(f"{inbox}.*", cb=answer)
    pending = []
    for n, (subject, data) in enumerate(messages(TENANT, count)):
        headers = {OUTCOME_TO_HEADER: f"{inbox}.{n}"} if asking else None
        pending.append(js.publish(subject, data, headers=headers))
        if len(pending) == 500:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    per_s, _, _, _ = await run_bus(settings, 1, count)
    # Answers go out right after each batch's acks: the last ones may still be in flight.
    if asking:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_answered.wait(), 30)
    await client.close()
    return Throughput(round_, asking, per_s, answered)


def _upsert(n: int) -> bytes:
    record = {"id": f"lat{n}", "type": "creator", "name": f"C{n}", "updatedAt": 1 + n}
    return json.dumps({**record, "actorId": "u"}).encode()


async def _timed(
    publishers: int, per_publisher: int, once: Callable[[], Awaitable[None]]
) -> list[float]:
    seconds: list[float] = []

    async def publisher() -> None:
        for _ in range(per_publisher):
            started = time.perf_counter()
            await once()
            seconds.append(time.perf_counter() - started)

    await asyncio.gather(*(publisher() for _ in range(publishers)))
    return seconds


async def latencies(client: Client, count: int) -> list[Latency]:
    js = client.jetstream()
    waiting: dict[str, asyncio.Future[None]] = {}
    inbox = client.new_inbox()
    ids = itertools.count()
    subject = entity_subject(TENANT, "creator", "upsert")

    def expect(key: str) -> asyncio.Future[None]:
        waiting[key] = future = asyncio.get_running_loop().create_future()
        return future

    async def arrived(key: str) -> None:
        future = waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def outcome(msg: Msg) -> None:
        await arrived(msg.subject)

    async def change(msg: Msg) -> None:
        await arrived(str(json.loads(msg.data)["record"].get("id")))

    await client.subscribe(f"{inbox}.*", cb=outcome)
    await client.subscribe(change_subject(TENANT, "entities", ">"), cb=change)
    await client.flush()

    async def asked() -> None:
        n = next(ids)
        answered = expect(f"{inbox}.{n}")
        await js.publish(subject, _upsert(n), headers={OUTCOME_TO_HEADER: f"{inbox}.{n}"})
        await asyncio.wait_for(answered, 30)

    async def seen() -> None:
        n = next(ids)
        stored = expect(f"lat{n}")
        await js.publish(subject, _upsert(n))
        await asyncio.wait_for(stored, 30)

    rows = []
    for publishers in (1, CONCURRENT):
        per = max(1, count // publishers // 2)
        base: list[float] = []
        with_outcome: list[float] = []
        # Halves in alternating order, so that machine noise hits both alike.
        for order in ((seen, asked), (asked, seen)):
            for once in order:
                sink = base if once is seen else with_outcome
                sink.extend(await _timed(publishers, per, once))
        rows.append(_percentiles("publish → change (no outcome)", publishers, base))
        rows.append(_percentiles("publish → outcome", publishers, with_outcome))
    return rows


async def queries(client: Client, count: int) -> list[Latency]:
    js = client.jetstream()
    subject = entity_subject(TENANT, "creator", "upsert")
    ack = await js.publish(subject, _upsert(10**7))
    get = query_subject(TENANT, "entities.get")
    headers = {TIMEOUT_HEADER: "10000"}

    async def ask(body: dict[str, Any]) -> None:
        reply = await client.request(get, json.dumps(body).encode(), timeout=15, headers=headers)
        assert json.loads(reply.data).get("ok"), reply.data

    fresh = itertools.count(2 * 10**7)

    async def without() -> None:
        await ask({"id": f"lat{10**7}"})

    async def reached() -> None:
        await ask({"id": f"lat{10**7}", "after": ack.seq})

    async def written() -> None:
        n = next(fresh)
        new = await js.publish(subject, _upsert(n))
        await ask({"id": f"lat{n}", "after": new.seq})

    await reached()  # waits for the write itself, once
    rows = []
    for what, once in (
        ("entities.get", without),
        ("entities.get with after (reached)", reached),
        ("publish, then entities.get with its after", written),
    ):
        rows.append(_percentiles(what, 1, await _timed(1, count, once)))
    return rows


async def run(running: Servers, count: int, rounds: int) -> dict[str, Any]:
    throughput: list[Throughput] = []
    for round_ in range(rounds):
        for asking in (False, True)[:: 1 if round_ % 2 == 0 else -1]:
            result = await throughput_round(running, count, round_, asking)
            throughput.append(result)
            console.print(
                f"  outcomes round {round_} {'asking' if asking else 'not asking'}: "
                f"{result.per_s:.0f}/s ({result.answered} answers)"
            )
    settings = _settings(running, "bench_outcomes_latency")
    client = await nats.connect(settings.nats_url)
    await fresh_streams(client.jetstream(), settings)
    env = service_env(settings)
    async with service_processes("ingest", 1, env), service_processes("query", 1, env):
        latency = await latencies(client, count)
        query = await queries(client, max(1, count // 2))
    await client.close()
    plain = statistics.median(t.per_s for t in throughput if not t.outcomes)
    asking_rate = statistics.median(t.per_s for t in throughput if t.outcomes)
    return {
        "messages": count,
        "throughput": [asdict(t) for t in throughput],
        "throughput_ratio": asking_rate / plain,
        "latency": [asdict(row) for row in latency],
        "queries": [asdict(row) for row in query],
    }


def print_table(result: dict[str, Any]) -> None:
    rates = Table("ingest", "records/s (median)", title="outcomes: ingest throughput")
    for asking in (False, True):
        rows = [t["per_s"] for t in result["throughput"] if t["outcomes"] == asking]
        rates.add_row(
            "asking for outcomes" if asking else "not asking", f"{statistics.median(rows):.0f}"
        )
    rates.add_row("ratio", f"{result['throughput_ratio']:.2f}")
    console.print(rates)
    table = Table("what", "publishers", "samples", "p50 ms", "p99 ms", title="outcomes: latency")
    for row in [*result["latency"], *result["queries"]]:
        table.add_row(
            row["what"], str(row["publishers"]), str(row["samples"]),
            f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}",
        )  # fmt: skip
    console.print(table)


async def main(arguments: argparse.Namespace) -> None:
    async with servers() as running:
        result = await run(running, arguments.messages, arguments.rounds)
    print_table(result)
    if arguments.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="per throughput round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating: even balances")
    parser.add_argument("--json", action="store_true")
    asyncio.run(main(parser.parse_args()))
