"""Fair queries and watches: one tenant's load against another tenant's latency, one run.

Tenant `flood` holds 5,000 creators (`--fair-creators`); tenant `calm` a few. ONE Bus runs
as production does, in processes of its own (one ingest, one query), on the benchmark's
servers.

- **Queries.** `calm` sends `entities.get` one after another: first alone (unloaded),
  then while `flood` keeps `--fair-flooders` requesters (256) each sending an expensive
  `entities.list` (a property filter over its 5,000 creators) in a closed loop, and once
  more after `flood` stops. `flood`'s requesters, answered `timeout`/overloaded, wait
  `--fair-backoff-ms` before the next request, as a client that reads the answer does. Reported:
  `calm`'s p50/p99 and errors in each phase, `flood`'s answers by outcome, and the store's
  open connections at the end of the flood (`serverStatus`, where the store has it).
- **Watches.** `calm` holds one watch (`entities.get`) and writes its entity every
  `--fair-interval-ms`; push latency is from just before the publish to the push. First alone,
  then while `flood` holds `--fair-watches` watches (distinct `entities.list` pages), every one
  of them made dirty by a `flood` write every `--fair-interval-ms`: a re-evaluation backlog.
"""

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pymongo import AsyncMongoClient
from rich.console import Console

from benchmarks.ingest import run_bus, service_env
from benchmarks.processes import service_processes
from benchmarks.servers import Servers, servers
from benchmarks.streams import fresh_streams, publish_all
from contracts.errors import OVERLOADED
from contracts.subjects import entity_subject, query_subject, watch_subject
from services.settings import Settings

console = Console()
FLOOD: Final = "flood"
CALM: Final = "calm"
EXPENSIVE: Final = {"properties": {"level": "l3"}, "limit": 100}
_T0: Final = 1_700_000_000_000
Document = dict[str, Any]


@dataclass(slots=True)
class Phase:
    """One requester's (or watcher's) latencies in one phase, and its failures."""

    samples_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        samples = sorted(self.samples_ms)
        if not samples:
            return {"n": 0, "errors": dict(self.errors)}
        # Inclusive: a p99 of few samples stays within them (never above the max).
        many = len(samples) > 1
        p99 = statistics.quantiles(samples, n=100, method="inclusive")[98] if many else samples[0]
        return {
            "n": len(samples),
            "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(p99, 2),
            "max_ms": round(samples[-1], 2),
            "errors": dict(self.errors),
        }


def _creator(tenant: str, n: int, version: int | None = None) -> tuple[str, bytes]:
    """Creator `c<n>`; with `version`, named `v<version>` and updated that much later."""
    payload = {
        "id": f"c{n}",
        "type": "creator",
        "name": f"Creator {n}" if version is None else f"v{version}",
        "properties": {"level": f"l{n % 10}", "bio": "x" * 100},
        "createdAt": _T0 + n,
        "updatedAt": _T0 + n + (version or 0) + 1_000_000 * (version is not None),
        "actorId": "bench",
    }
    return entity_subject(tenant, "creator", "upsert"), json.dumps(payload).encode()


async def _request(client: NatsClient, tenant: str, name: str, body: Document) -> Document:
    reply = await client.request(query_subject(tenant, name), json.dumps(body).encode(), timeout=10)
    answer: Document = json.loads(reply.data)
    return answer


def _outcome(answer: Document) -> str:
    if answer.get("ok"):
        return "ok"
    error = answer["error"]
    reason = (
        (error.get("details") or {}).get("reason")
        if isinstance(error.get("details"), dict)
        else None
    )
    return OVERLOADED if reason == OVERLOADED else str(error["code"])


async def _gets(client: NatsClient, count: int) -> Phase:
    phase = Phase()
    for _ in range(count):
        started = time.perf_counter()
        try:
            answer = await _request(client, CALM, "entities.get", {"id": "c1"})
        except (TimeoutError, nats.errors.Error) as error:
            phase.errors[type(error).__name__] += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if answer.get("ok"):
            phase.samples_ms.append(elapsed)
        else:
            phase.errors[_outcome(answer)] += 1
    return phase


async def _store_connections(mongodb_uri: str) -> int | None:
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri)
    try:
        status = await mongo.admin.command("serverStatus")
        current = (status.get("connections") or {}).get("current")
        return int(current) if current is not None else None
    except Exception:
        return None  # not every store reports it
    finally:
        await mongo.close()


async def queries(running: Servers, settings: Settings, arguments: argparse.Namespace) -> Document:
    env = service_env(settings)
    client = await nats.connect(running.nats_url)
    flooding = asyncio.Event()
    outcomes: Counter[str] = Counter()
    alone = Phase()
    async with service_processes("query", 1, env):
        for _ in range(20):  # warm up
            await _request(client, CALM, "entities.get", {"id": "c1"})
        for _ in range(5):
            started = time.perf_counter()
            await _request(client, FLOOD, "entities.list", EXPENSIVE)
            alone.samples_ms.append((time.perf_counter() - started) * 1000)
        unloaded = await _gets(client, arguments.fair_requests)

        flood_client = await nats.connect(running.nats_url)

        async def flooder() -> None:
            while flooding.is_set():
                try:
                    outcome = _outcome(
                        await _request(flood_client, FLOOD, "entities.list", EXPENSIVE)
                    )
                except (TimeoutError, nats.errors.Error) as error:
                    outcome = type(error).__name__
                outcomes[outcome] += 1
                if outcome != "ok":
                    await asyncio.sleep(arguments.fair_backoff_ms / 1000)

        flooding.set()
        flooders = [asyncio.create_task(flooder()) for _ in range(arguments.fair_flooders)]
        await asyncio.sleep(1.0)  # every flooder has a request in hand
        loaded = await _gets(client, arguments.fair_requests)
        connections = await _store_connections(running.mongodb_uri)
        flooding.clear()
        await asyncio.gather(*flooders)
        await flood_client.close()
        after = await _gets(client, max(10, arguments.fair_requests // 4))
    await client.close()
    result = {
        "flood_list_alone": alone.summary(),
        "calm_get_unloaded": unloaded.summary(),
        "calm_get_flooded": loaded.summary(),
        "calm_get_after": after.summary(),
        "flood_outcomes": dict(outcomes),
        "store_connections_in_flood": connections,
        "flooders": arguments.fair_flooders,
    }
    unloaded_p99 = result["calm_get_unloaded"].get("p99_ms")
    flooded_p99 = result["calm_get_flooded"].get("p99_ms")
    if unloaded_p99 and flooded_p99:
        result["p99_ratio"] = round(flooded_p99 / unloaded_p99, 2)
    return result


async def watches(running: Servers, settings: Settings, arguments: argparse.Namespace) -> Document:
    env = {
        **service_env(settings),
        "ONE_WATCH_MAX_PER_CONNECTION": str(arguments.fair_watches + 10),
        "ONE_WATCH_LEASE_S": "3600",
    }
    client = await nats.connect(running.nats_url)
    js = client.jetstream()
    sent: dict[int, float] = {}
    phase = Phase()
    flood_pushes = 0

    async def calm_pushed(msg: Msg) -> None:
        body = json.loads(msg.data)
        name = ((body.get("result") or {}).get("name")) or ""
        if not (name.startswith("v") and name[1:].isdigit()):
            return
        version = int(name[1:])
        if version in sent:
            phase.samples_ms.append((time.perf_counter() - sent.pop(version)) * 1000)
        for older in [n for n in sent if n < version]:
            # Folded into this push (coalescing): its result was never the latest pushed.
            del sent[older]
            phase.errors["coalesced"] += 1

    async def flood_pushed(_msg: Msg) -> None:
        nonlocal flood_pushes
        flood_pushes += 1

    async def watch(tenant: str, name: str, body: Document, deliver_to: str) -> None:
        request = json.dumps({**body, "deliverTo": deliver_to}).encode()
        for _ in range(10):  # as a client does: `timeout` (its slot wait) is tried again
            reply = await client.request(watch_subject(tenant, name), request, timeout=30)
            answer = json.loads(reply.data)
            if answer.get("ok"):
                return
            if answer["error"]["code"] != "timeout":
                break
        raise RuntimeError(f"watch {tenant} {name}: {answer}")

    async def calm_writes(count: int, first: int) -> Phase:
        nonlocal phase
        phase = Phase()
        for n in range(first, first + count):
            subject, data = _creator(CALM, 1, version=n)
            sent[n] = time.perf_counter()
            await js.publish(subject, data)
            await asyncio.sleep(arguments.fair_interval_ms / 1000)
        await asyncio.sleep(2.0)  # the last pushes
        phase.errors["no push"] = len(sent)
        sent.clear()
        return phase

    async with service_processes("ingest", 1, env), service_processes("query", 1, env):
        await client.subscribe("_INBOX.calm.>", cb=calm_pushed)
        await client.subscribe("_INBOX.flood.>", cb=flood_pushed)
        await watch(CALM, "entities.get", {"id": "c1"}, "_INBOX.calm.w")
        unloaded = await calm_writes(arguments.fair_writes, 0)

        async def flood_watch(n: int) -> None:
            # Distinct pages (distinct bounds): one read each, none shared; every flood
            # write (created before every bound) enters all of them.
            page = {"type": "creator", "limit": 1 + n % 20, "createdBefore": _T0 + 10**9 + n}
            await watch(FLOOD, "entities.list", page, f"_INBOX.flood.{n}")

        for first in range(0, arguments.fair_watches, 8):
            last = min(first + 8, arguments.fair_watches)
            await asyncio.gather(*(flood_watch(n) for n in range(first, last)))
        churning = asyncio.Event()
        churning.set()

        async def churn() -> None:
            n = arguments.fair_creators
            while churning.is_set():
                subject, data = _creator(FLOOD, n)
                await js.publish(subject, data)
                n += 1
                await asyncio.sleep(arguments.fair_interval_ms / 1000)

        churner = asyncio.create_task(churn())
        await asyncio.sleep(1.0)
        churned = await calm_writes(arguments.fair_writes, arguments.fair_writes)
        churning.clear()
        await churner
    await client.close()
    return {
        "calm_push_unloaded": unloaded.summary(),
        "calm_push_churned": churned.summary(),
        "flood_watches": arguments.fair_watches,
        "flood_pushes": flood_pushes,
    }


async def run(running: Servers, arguments: argparse.Namespace) -> dict[str, object]:
    settings = Settings(
        nats_url=running.nats_url,
        mongodb_uri=running.mongodb_uri,
        mongodb_db="bench_query_tenancy",
    )
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(running.mongodb_uri)
    await mongo.drop_database(settings.mongodb_db)
    await mongo.close()
    client = await nats.connect(running.nats_url)
    js = client.jetstream()
    await fresh_streams(js, settings)
    records = [_creator(FLOOD, n) for n in range(arguments.fair_creators)]
    records += [_creator(CALM, n) for n in range(20)]
    await publish_all(js, records)
    await client.close()
    await run_bus(settings, 1, len(records))  # stored by an ingest process, then stopped
    result: dict[str, object] = {"queries": await queries(running, settings, arguments)}
    console.print(f"query tenancy: {result['queries']}")
    if arguments.fair_watches:
        result["watches"] = await watches(running, settings, arguments)
    return result


def print_report(result: dict[str, Any]) -> None:
    q = result["queries"]
    console.print(f"query tenancy: flood's list alone {q['flood_list_alone']}")
    for key in ("calm_get_unloaded", "calm_get_flooded", "calm_get_after"):
        console.print(f"  {key}: {q[key]}")
    connections = q["store_connections_in_flood"]
    console.print(f"  flood outcomes: {q['flood_outcomes']}; store connections {connections}")
    console.print(f"  p99 flooded / unloaded: {q.get('p99_ratio')}")
    if "watches" in result:
        w = result["watches"]
        console.print(f"watch tenancy: calm unloaded {w['calm_push_unloaded']}")
        console.print(
            f"  calm under {w['flood_watches']} churning watches: {w['calm_push_churned']}"
        )
        console.print(f"  flood pushes meanwhile: {w['flood_pushes']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, prefixed `--fair-` (they sit beside the other parts' in `make bench`)."""
    group = parser.add_argument_group("fair queries and watches (query tenancy)")
    group.add_argument("--fair-flooders", type=int, default=256, help="flood's; 0 skips")
    group.add_argument("--fair-creators", type=int, default=5_000, help="flood's records")
    group.add_argument("--fair-requests", type=int, default=200, help="calm's gets per phase")
    group.add_argument("--fair-backoff-ms", type=float, default=100.0)
    group.add_argument("--fair-watches", type=int, default=1000, help="flood's; 0 skips")
    group.add_argument("--fair-writes", type=int, default=40, help="calm's per watch phase")
    group.add_argument("--fair-interval-ms", type=float, default=100.0)


async def _main(arguments: argparse.Namespace) -> None:
    async with servers() as running:
        result = await run(running, arguments)
    print_report(result)
    if arguments.out:
        with open(arguments.out, "w") as out:  # noqa: ASYNC230 (once, at the end)
            json.dump({"query_tenancy": result, "arguments": vars(arguments)}, out, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.add_argument("--out", default="")
    asyncio.run(_main(parser.parse_args()))
