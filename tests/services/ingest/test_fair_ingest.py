"""One tenant's backlog is nobody else's latency: fairness as an ordering fact.

Tenant `bulk` holds a backlog of many batches; other tenants publish once it drains.
Their writes must be stored before the backlog has drained much further: the changes
stream records what was stored in order, so the number of `bulk` records stored before
the others' last one says how long they waited, in messages, whatever the machine's
speed. A single FIFO would store them after the whole backlog.

Each test runs on a nats-server of its own, so its lanes and streams are the only ones.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.dead_letters import HEADER_STREAM
from contracts.subjects import event_subject
from contracts.tenancy import IngestLayout, TenantQuotas
from services.ingest.dead_letter_box import DeadLetterBox
from services.ingest.lanes import lane_consumer
from services.runtime.service import OneBusService
from services.runtime.streams import declare_streams, declare_tenant_stream
from services.settings import Settings
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

Database = AsyncDatabase[dict[str, Any]]

BACKLOG = 3000
BATCH = 100
OTHERS = ("small1", "small2", "small3")
PER_OTHER = 5
# The others' writes must be stored before the backlog drained this much further after
# they were published (a FIFO: all of what was left, at least BACKLOG / 2).
FAIR_SHARE = BACKLOG // 3


def event(event_id: str, event_type: str) -> bytes:
    body = {"id": event_id, "type": event_type, "actorId": "u1", "timestamp": 5, "metadata": {}}
    return json.dumps(body).encode()


async def publish(
    js: JetStreamContext, tenant: str, count: int, event_type: str = "user_login"
) -> None:
    subject = event_subject(tenant, event_type)
    for start in range(0, count, 250):
        await asyncio.gather(
            *(
                js.publish(subject, event(f"{event_type}-{n}", event_type))
                for n in range(start, min(start + 250, count))
            )
        )


async def stored(db: Database, tenant: str, event_type: str = "user_login") -> int:
    return await db.events.count_documents({"groupId": tenant, "type": event_type})


async def storage_order(js: JetStreamContext, expected: int) -> list[tuple[str, str]]:
    """(tenant, event type) of every event stored, in the order it was stored."""
    sub = await js.pull_subscribe(
        "one.v1.*.changes.events.>",
        stream="ONE_CHANGES",
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    order: list[tuple[str, str]] = []
    try:
        while len(order) < expected:
            try:
                msgs = await sub.fetch(1000, timeout=5)
            except TimeoutError:
                break
            for msg in msgs:
                tokens = msg.subject.split(".")
                order.append((tokens[2], tokens[5]))
    finally:
        await sub.unsubscribe()
    return order


@dataclass
class Bench:
    """A nats-server of the test's own, a database of its own, ingest replicas on them."""

    settings: Settings
    client: NatsClient
    js: JetStreamContext
    db: Database
    replicas: list[OneBusService]
    suffix: str = ""

    def name(self, tenant: str) -> str:
        """The test's own tenant of that name (the database is the module's)."""
        return f"{tenant}{self.suffix}"

    async def start(self, count: int = 1) -> None:
        for _ in range(count):
            service = OneBusService(self.settings, query=False)
            await service.start()
            self.replicas.append(service)

    async def stop(self) -> None:
        while self.replicas:
            await self.replicas.pop().stop()

    async def declare(self, tenant: str, quotas: TenantQuotas | None = None) -> None:
        """What `one-bus tenant add` does for ingest: the stream, in the per-tenant layout."""
        if self.settings.ingest_layout == "per_tenant":
            await declare_tenant_stream(self.js, self.settings, tenant, quotas or TenantQuotas())
        else:
            await declare_streams(self.js, self.settings)


BenchFactory = Callable[[IngestLayout], Awaitable[Bench]]


@pytest.fixture(scope="module")
async def fair_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[str]:
    """One database for the module, each test's tenants its own (`Bench.name`). Dropped
    only on a store the session did not start: the embedded one goes with its data
    directory, and dropping 20,000 records takes SecantusDB most of a minute here."""
    name = f"fair_{uuid.uuid4().hex[:8]}"
    yield name
    if os.environ.get("ONE_TEST_MONGODB_URI") or os.environ.get("ONE_TEST_CONTAINERS") == "1":
        await mongo_client.drop_database(name)


@pytest.fixture
async def bench(
    private_nats_url: str,
    mongodb_uri: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
    fair_db: str,
) -> AsyncIterator[BenchFactory]:
    made: list[Bench] = []

    async def make(layout: IngestLayout) -> Bench:
        settings = Settings(
            nats_url=private_nats_url,
            mongodb_uri=mongodb_uri,
            mongodb_db=fair_db,
            ingest_layout=layout,
            batch_size=BATCH,
            ingest_lane_discovery_s=0.1,
            retry_base_delay_s=0.2,
            retry_max_delay_s=2.0,
        )
        client = await nats.connect(private_nats_url)
        made.append(
            Bench(
                settings,
                client,
                client.jetstream(),
                mongo_client[fair_db],
                [],
                f"-{uuid.uuid4().hex[:6]}",
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.stop()
        await each.client.close()


async def drain_while_others_publish(
    bench: Bench,
    *,
    replicas: int = 1,
    restart: bool = False,
    newcomer: str | None = None,
) -> tuple[int, int]:
    """Publish the backlog, start ingest, publish the others' writes once it drains;
    returns (bulk stored when the others published, bulk stored before their last)."""
    bulk = bench.name("bulk")
    regulars = [bench.name(tenant) for tenant in OTHERS]
    others = [*regulars, bench.name(newcomer)] if newcomer else regulars
    for tenant in (bulk, *regulars):
        await bench.declare(tenant)
    # The others were here before (they have lanes); a newcomer appears mid-drain.
    for tenant in regulars:
        await publish(bench.js, tenant, 1)
    await publish(bench.js, bulk, BACKLOG)
    await bench.start(replicas)
    await eventually(lambda: stored(bench.db, bulk), lambda n: n >= BATCH, timeout_s=60)
    if restart:
        await bench.stop()
        await bench.start(replicas)
    before = await stored(bench.db, bulk)
    assert before < BACKLOG // 2, "the backlog drained before the others came: no measure"
    if newcomer:
        await bench.declare(others[-1])
    for tenant in others:
        await publish(bench.js, tenant, PER_OTHER, "user_logout")

    async def everything() -> list[int]:
        return [
            await stored(bench.db, bulk),
            *[await stored(bench.db, tenant, "user_logout") for tenant in others],
        ]

    counts = await eventually(
        everything,
        lambda c: c == [BACKLOG, *[PER_OTHER] * len(others)],
        timeout_s=120,
    )
    assert counts == [BACKLOG, *[PER_OTHER] * len(others)]
    total = BACKLOG + len(OTHERS) + PER_OTHER * len(others)
    order = await storage_order(bench.js, total)
    assert len(order) == total  # each stored once
    last_other = max(i for i, (tenant, kind) in enumerate(order) if kind == "user_logout")
    bulk_before = sum(1 for tenant, _ in order[:last_other] if tenant == bulk)
    return before, bulk_before


def assert_fair(before: int, bulk_before: int) -> None:
    assert bulk_before <= before + FAIR_SHARE, (before, bulk_before)


async def test_other_tenants_are_stored_while_a_backlog_drains_shared_layout(
    bench: BenchFactory,
) -> None:
    assert_fair(*await drain_while_others_publish(await bench("shared")))


async def test_other_tenants_are_stored_while_a_backlog_drains_per_tenant_layout(
    bench: BenchFactory,
) -> None:
    assert_fair(*await drain_while_others_publish(await bench("per_tenant")))


async def test_two_replicas_split_the_backlog_and_stay_fair(bench: BenchFactory) -> None:
    made = await bench("shared")
    assert_fair(*await drain_while_others_publish(made, replicas=2))
    for replica in made.replicas:
        written = replica.metrics_registry.get_sample_value(
            "one_bus_ingest_messages_total", {"kind": "events", "outcome": "written"}
        )
        assert (written or 0) > 0


async def test_after_an_ingest_restart_lanes_resume_and_stay_fair(bench: BenchFactory) -> None:
    assert_fair(*await drain_while_others_publish(await bench("per_tenant"), restart=True))


async def test_a_tenant_appearing_mid_drain_gets_its_lane_shared_layout(
    bench: BenchFactory,
) -> None:
    assert_fair(*await drain_while_others_publish(await bench("shared"), newcomer="late"))


async def test_a_tenant_appearing_mid_drain_gets_its_lane_per_tenant_layout(
    bench: BenchFactory,
) -> None:
    assert_fair(*await drain_while_others_publish(await bench("per_tenant"), newcomer="late"))


async def test_a_nats_msg_id_suppresses_only_its_own_tenants_retry(bench: BenchFactory) -> None:
    made = await bench("per_tenant")
    a, b = made.name("a"), made.name("b")
    for tenant in (a, b):
        await made.declare(tenant)
    await made.start()
    headers = {"Nats-Msg-Id": "order-1001"}
    first = await made.js.publish(
        event_subject(a, "user_login"), event("ea", "user_login"), headers=headers
    )
    other = await made.js.publish(
        event_subject(b, "user_login"), event("eb", "user_login"), headers=headers
    )
    retry = await made.js.publish(
        event_subject(a, "user_login"), event("ea2", "user_login"), headers=headers
    )
    assert (first.duplicate, other.duplicate, retry.duplicate) == (None, None, True)

    async def ids() -> dict[str, list[str]]:
        return {
            tenant: sorted(
                e["id"]
                for e in await made.db.events.find(
                    {"groupId": tenant, "type": "user_login"}
                ).to_list()
            )
            for tenant in (a, b)
        }

    assert await eventually(ids, lambda i: all(i.values())) == {a: ["ea"], b: ["eb"]}


async def test_over_its_backlog_quota_a_publish_is_refused_at_once_and_nothing_is_lost(
    bench: BenchFactory,
) -> None:
    made = await bench("per_tenant")
    a, b = made.name("a"), made.name("b")
    await made.declare(a, TenantQuotas(max_backlog_msgs=5))
    await made.declare(b)
    await publish(made.js, a, 5)
    with pytest.raises(APIError, match="maximum messages"):
        await made.js.publish(event_subject(a, "user_login"), event("over", "user_login"))
    await publish(made.js, b, 20)  # another tenant: unaffected

    await made.start()
    counts = await eventually(
        lambda: asyncio.gather(stored(made.db, a), stored(made.db, b)),
        lambda c: list(c) == [5, 20],
    )
    assert list(counts) == [5, 20]
    # The quota bounds the backlog, not what was ever sent: drained, `a` may publish again.
    stream, _ = lane_consumer(made.settings, a)
    await eventually(lambda: made.js.stream_info(stream), lambda i: i.state.messages == 0)
    await made.js.publish(event_subject(a, "user_login"), event("later", "user_login"))
    assert await eventually(lambda: stored(made.db, a), lambda n: n == 6) == 6


async def test_dead_letters_name_their_stream_and_tenants_sequences_do_not_collide(
    bench: BenchFactory,
) -> None:
    made = await bench("per_tenant")
    a, b = made.name("a"), made.name("b")
    for tenant in (a, b):
        await made.declare(tenant)
    await made.start()
    # Each is seq 1 of its own stream: one dead letter each, none deduplicated away.
    for tenant in (a, b):
        await made.js.publish(event_subject(tenant, "user_login"), b"not json")
    box = DeadLetterBox(made.js, made.settings.dlq_stream, made.settings.ingest_stream)

    async def letters() -> list[Any]:
        return [letter async for letter in box.scan()]

    found = await eventually(letters, lambda got: len(got) == 2)
    assert sorted((letter.headers[HEADER_STREAM], letter.ingest_seq) for letter in found) == [
        (f"ONE_INGEST_{a}", 1),
        (f"ONE_INGEST_{b}", 1),
    ]
    assert {letter.ingest_stream for letter in found} == {f"ONE_INGEST_{a}", f"ONE_INGEST_{b}"}


async def test_a_deployment_of_the_single_consumer_moves_to_lanes_without_loss_or_repeat(
    bench: BenchFactory,
) -> None:
    """Earlier versions had one durable over the whole stream. What it acked is not taken
    again; what it had not (including what it held unacked) is."""
    made = await bench("shared")
    a, b = made.name("a"), made.name("b")
    settings = made.settings
    await declare_streams(made.js, settings)
    legacy = await made.js.pull_subscribe(
        "one.v1.>",
        durable=settings.ingest_consumer,
        stream=settings.ingest_stream,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_deliver=-1, ack_wait=60),
    )
    for tenant in (a, b):
        await publish(made.js, tenant, 6)  # a: seq 1-6, b: seq 7-12
    taken = await legacy.fetch(8, timeout=5)
    for msg in taken[:7]:  # done up to seq 7 (the old consumer stored them)
        await msg.ack()
    # seq 8 was in hand, unacked, when the old version stopped.
    await legacy.unsubscribe()

    await made.start()
    counts = await eventually(
        lambda: asyncio.gather(stored(made.db, a), stored(made.db, b)),
        lambda c: list(c) == [0, 5],
    )
    await made.stop()  # drained: nothing more would come
    assert list(counts) == [0, 5]
    assert sorted(await _ids(made.db, b)) == [f"user_login-{n}" for n in range(1, 6)]
    names = {info.name async for info in _consumers(made.js, settings.ingest_stream)}
    assert names == {lane_consumer(settings, t)[1] for t in (a, b)}


async def _ids(db: Database, tenant: str) -> list[str]:
    return [e["id"] for e in await db.events.find({"groupId": tenant}).to_list()]


async def _consumers(js: JetStreamContext, stream: str) -> AsyncIterator[Any]:
    for info in await js.consumers_info(stream):
        yield info
