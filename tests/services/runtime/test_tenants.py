"""A tenant's quotas, usage, removal and purge (services/runtime/tenants.py) on real
servers with a running ONE Bus: what `one-bus tenant set/stats/remove` do.

Removal is checked by what is left (consumers, KV keys, documents, stream messages) and
by ordering facts: after its watch's end push, a removed tenant's watch gets nothing more,
while another tenant's watch, whose change was published after, is pushed."""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from pymongo.asynchronous.database import AsyncDatabase

from contracts.ontology import COLLECTIONS
from contracts.subjects import tenant_ingest_stream
from contracts.tenancy import TenantQuotas
from services.ingest.lanes import lane_consumer
from services.runtime.service import OneBusService
from services.runtime.tenant_directory import read_quotas, tenants_bucket
from services.runtime.tenants import (
    apply_quotas,
    registered_tenants,
    remove_tenant,
    tenant_consumers,
    tenant_usage,
    watch_records,
)
from services.settings import Settings
from services.store.mongodb.store import MongoTenantRecords
from tests.fixtures.waiting import eventually
from tests.services.watch.conftest import Watcher

pytestmark = pytest.mark.integration

Document = dict[str, Any]


def new_tenant() -> str:
    return f"tn_{uuid.uuid4().hex[:10]}"


def creator(entity_id: str, name: str = "Ada") -> bytes:
    body = {"id": entity_id, "type": "creator", "name": name, "updatedAt": 1, "actorId": "u"}
    return json.dumps(body).encode()


def event(event_id: str) -> bytes:
    body = {"id": event_id, "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}}
    return json.dumps(body).encode()


@pytest.fixture
async def js(nats_client: NatsClient) -> JetStreamContext:
    return nats_client.jetstream()


async def stored(database: AsyncDatabase[Document], collection: str, tenant: str, n: int) -> int:
    async def count() -> int:
        return await database[collection].count_documents({"groupId": tenant})

    return await eventually(count, lambda found: found >= n, timeout_s=30)


def dead_letters_of(
    js: JetStreamContext, settings: Settings, tenant: str
) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return await subject_count(js, settings.dlq_stream, f"one.v1.{tenant}.dlq.>")

    return count


async def subject_count(js: JetStreamContext, stream: str, subjects: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subjects)
    return sum((info.state.subjects or {}).values())


async def test_quotas_in_the_per_tenant_layout_are_the_streams_limits_at_once(
    private_client: NatsClient, database: AsyncDatabase[Document]
) -> None:
    js = private_client.jetstream()
    settings = Settings(ingest_layout="per_tenant")
    tenant = new_tenant()
    own = await apply_quotas(js, settings, tenant, TenantQuotas(max_backlog_msgs=2))
    assert own == TenantQuotas(max_backlog_msgs=2)
    stream = tenant_ingest_stream(settings.ingest_stream, tenant)
    assert (await js.stream_info(stream)).config.max_msgs == 2
    # `set` changes what it names; the rest stays.
    own = await apply_quotas(js, settings, tenant, TenantQuotas(max_watches=3))
    assert own == TenantQuotas(max_backlog_msgs=2, max_watches=3)
    assert await read_quotas(await tenants_bucket(js), tenant) == own
    assert (await js.stream_info(stream)).config.max_msgs == 2
    for n in range(2):
        await js.publish(f"one.v1.{tenant}.events.user_login", event(f"e{n}"))
    # Over quota: refused at once, to this publisher.
    with pytest.raises(APIError, match="maximum messages exceeded"):
        await js.publish(f"one.v1.{tenant}.events.user_login", event("e3"))
    await apply_quotas(js, settings, tenant, TenantQuotas(max_backlog_msgs=3))
    ack = await js.publish(f"one.v1.{tenant}.events.user_login", event("e3"))
    assert ack.stream == stream
    assert tenant in await registered_tenants(js)
    # Its backlog and the bytes its stream holds, each against its quota.
    [usage] = await tenant_usage(
        js, settings, MongoTenantRecords(database), [tenant], interval_s=0.1
    )
    assert usage.backlog.messages == 3
    assert usage.backlog.bytes is not None
    assert usage.backlog.bytes > 0
    assert usage.quotas["max_backlog_msgs"].model_dump() == {"used": 3, "limit": 3}
    assert usage.quotas["max_backlog_bytes"].used == usage.backlog.bytes

    # Removed: its stream goes, backlog with it (nothing took it: no consumer yet).
    removal = await remove_tenant(private_client, js, settings, tenant)
    assert removal.ingest_stream_deleted
    assert removal.backlog_dropped == 3
    assert removal.quotas_deleted
    assert tenant not in await registered_tenants(js)
    assert [info.config.name for info in await js.streams_info()].count(stream) == 0


async def test_usage_counts_records_dead_letters_watches_consumers_and_quotas(
    bus: OneBusService,
    bus_db: AsyncDatabase[Document],
    js: JetStreamContext,
    nats_client: NatsClient,
) -> None:
    settings = bus.settings
    tenant = new_tenant()
    await apply_quotas(js, settings, tenant, TenantQuotas(max_watches=4))
    for n in range(3):
        await js.publish(f"one.v1.{tenant}.events.user_login", event(f"{tenant}-{n}"))
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", b"{not json")
    await stored(bus_db, "events", tenant, 3)
    watcher = Watcher(nats_client, tenant)
    assert (await watcher.start("events.list", {}))["ok"]
    follower = await js.subscribe(
        f"one.v1.{tenant}.changes.>", stream=settings.changes_stream, ordered_consumer=True
    )

    async def usage() -> Any:
        return (
            await tenant_usage(js, settings, MongoTenantRecords(bus_db), [tenant], interval_s=0.2)
        )[0]

    seen = await eventually(usage, lambda u: u.dead_letters == 1 and u.backlog.messages == 0)
    assert seen.records == {"entities": 0, "connections": 0, "events": 3, "tags": 0}
    assert seen.dead_letters == 1
    assert seen.changes == 3
    assert seen.watches == 1
    assert seen.consumers == 1
    assert seen.backlog.messages == 0
    # Measured from the tenant's own lane.
    assert seen.backlog.measured_from == lane_consumer(settings, tenant)[1]
    assert seen.quotas["max_watches"].model_dump() == {"used": 1, "limit": 4}
    assert seen.quotas["max_consumers"].used == 1
    assert seen.quotas["max_backlog_msgs"].limit == settings.tenant_max_backlog_msgs
    await follower.unsubscribe()
    await watcher.close()


async def test_a_lane_consumers_pending_messages_are_the_tenants_backlog(
    bus: OneBusService,
    js: JetStreamContext,
    bus_db: AsyncDatabase[Document],
    nats_client: NatsClient,
) -> None:
    # A lane of its own name, which the running ingest does not take: its messages stay.
    settings = bus.settings.model_copy(update={"ingest_consumer": "held"})
    tenant = new_tenant()
    stream, lane = lane_consumer(settings, tenant)
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=lane,
            filter_subject=f"one.v1.{tenant}.>",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
        ),
    )
    for n in range(5):
        await js.publish(f"one.v1.{tenant}.events.user_login", event(f"{tenant}-{n}"))
    [usage] = await tenant_usage(js, settings, MongoTenantRecords(bus_db), [tenant], interval_s=0.1)
    assert usage.backlog.measured_from == lane
    assert usage.backlog.messages == 5
    assert usage.backlog.oldest_age_s is not None
    removal = await remove_tenant(nats_client, js, settings, tenant)
    # The held lane, and the running ingest's own lane of the tenant once it found it.
    assert removal.consumers_deleted in (1, 2)
    assert removal.backlog_dropped == 5
    assert await tenant_consumers(js, settings, tenant) == []
    assert await subject_count(js, settings.ingest_stream, f"one.v1.{tenant}.>") == 0


@pytest.fixture
async def canary(nats_client: NatsClient) -> AsyncIterator[Watcher]:
    watcher = Watcher(nats_client, new_tenant())
    yield watcher
    await watcher.close()


async def test_remove_ends_watches_at_once_and_leaves_no_consumer_or_entry(
    bus: OneBusService,
    bus_db: AsyncDatabase[Document],
    js: JetStreamContext,
    nats_client: NatsClient,
    canary: Watcher,
) -> None:
    settings = bus.settings
    tenant = new_tenant()
    await apply_quotas(js, settings, tenant, TenantQuotas(max_watches=9))
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", creator("c1"))
    await stored(bus_db, "entities", tenant, 1)
    watcher = Watcher(nats_client, tenant)
    assert (await watcher.start("entities.list", {}))["ok"]
    assert (await canary.start("entities.list", {}))["ok"]
    follower = await js.subscribe(
        f"one.v1.{tenant}.changes.>", stream=settings.changes_stream, ordered_consumer=True
    )
    # Its ingest lane (it has stored a record) and its follower of the changes.
    assert len(await tenant_consumers(js, settings, tenant)) == 2

    removal = await remove_tenant(nats_client, js, settings, tenant)
    assert removal.watches_ended == 1
    assert removal.consumers_deleted == 2
    assert removal.quotas_deleted
    ended = await watcher.until(lambda body: body.get("ended") is True)
    assert ended == {"watchId": watcher.watch_id, "ended": True, "reason": "stopped"}
    assert watcher.watch_id not in {
        r.watchId for r in (await watch_records(js, settings.watch_kv_bucket)).values()
    }
    assert await tenant_consumers(js, settings, tenant) == []
    assert tenant not in await registered_tenants(js)
    assert await read_quotas(await tenants_bucket(js), tenant) is None
    await follower.unsubscribe()

    # Its watch is pushed nothing more: the canary's change, published after its own,
    # is pushed to the canary first.
    after_end = len(watcher.messages)
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", creator("c2"))
    await js.publish(f"one.v1.{canary.tenant}.entities.creator.upsert", creator("k1"))
    await canary.until(lambda body: bool(body.get("result", {}).get("items")))
    await stored(bus_db, "entities", tenant, 2)
    assert len(watcher.messages) == after_end

    # Added again: it starts clean. Open `dev` let it publish after its removal (c2,
    # stored above), so ingest found it again: at most that new lane, nothing old pending.
    assert await apply_quotas(js, settings, tenant, TenantQuotas()) == TenantQuotas()
    left = await tenant_consumers(js, settings, tenant)
    assert left in ([], [lane_consumer(settings, tenant)])
    for stream, name in left:
        info = await js.consumer_info(stream, name)
        assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_purge_erases_records_changes_dead_letters_and_input_of_that_tenant_only(
    bus: OneBusService,
    bus_db: AsyncDatabase[Document],
    js: JetStreamContext,
    nats_client: NatsClient,
) -> None:
    settings = bus.settings
    tenant, other = new_tenant(), new_tenant()
    for who in (tenant, other):
        await js.publish(f"one.v1.{who}.entities.creator.upsert", creator(f"{who}-c"))
        await js.publish(f"one.v1.{who}.events.user_login", event(f"{who}-e"))
        await js.publish(
            f"one.v1.{who}.tags.set",
            json.dumps({"entityId": f"{who}-c", "key": "k", "value": "v"}).encode(),
        )
        await js.publish(
            f"one.v1.{who}.connections.owns.create",
            json.dumps({"id": f"{who}-x", "fromEntityId": f"{who}-c", "toEntityId": "p",
                        "relationshipType": "owns"}).encode(),
        )  # fmt: skip
        await js.publish(f"one.v1.{who}.events.user_login", b"[1, 2")
    for who in (tenant, other):
        for collection in COLLECTIONS:
            await stored(bus_db, collection, who, 1)
        await eventually(dead_letters_of(js, settings, who), bool)
    before = {c: await bus_db[c].count_documents({"groupId": tenant}) for c in COLLECTIONS}
    changes = await subject_count(js, settings.changes_stream, f"one.v1.{tenant}.changes.>")

    removal = await remove_tenant(
        nats_client, js, settings, tenant, records=MongoTenantRecords(bus_db)
    )
    assert removal.records_erased == before
    assert removal.changes_erased == changes
    assert removal.dead_letters_erased == 1
    assert removal.input_erased == 5
    for collection in COLLECTIONS:
        assert await bus_db[collection].count_documents({"groupId": tenant}) == 0
        assert await bus_db[collection].count_documents({"groupId": other}) >= 1
    for stream in (settings.ingest_stream, settings.changes_stream, settings.dlq_stream):
        assert await subject_count(js, stream, f"one.v1.{tenant}.>") == 0, stream
        assert await subject_count(js, stream, f"one.v1.{other}.>") >= 1, stream
