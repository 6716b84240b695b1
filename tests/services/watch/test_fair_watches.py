"""Watches under one tenant's load: its own `max_watches` quota (from the ONE_TENANTS
bucket), and re-evaluations shared by tenant in turn, so another tenant's push does not
wait behind the busy tenant's backlog. Orders and counts only, never durations."""

import json
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pymongo import AsyncMongoClient

from contracts.subjects import watch_subject
from contracts.tenancy import TenantQuotas
from one_bus import OneClient
from services.runtime.tenant_directory import put_quotas, tenants_bucket
from tests.fixtures.waiting import eventually
from tests.services.query.stored import entity, insert
from tests.services.watch.conftest import ServiceFactory, Watcher

Document = dict[str, Any]


async def test_watches_over_the_tenants_own_quota_are_refused_limit_exceeded(
    private_bus: ServiceFactory, private_client: NatsClient
) -> None:
    kv = await tenants_bucket(private_client.jetstream())
    await put_quotas(kv, "small", TenantQuotas(max_watches=2))
    await private_bus(watch_max_per_tenant=5)
    small = [Watcher(private_client, "small") for _ in range(3)]
    for watch in small[:2]:
        assert (await watch.start("events.list", {"actorId": "a"}))["ok"] is True
    over = await small[2].start("events.list", {"actorId": "a"})
    assert over["error"]["code"] == "limit_exceeded"
    assert "tenant 'small' has 2 watches" in over["error"]["message"]
    # Another tenant has the deployment's default (5), not small's quota.
    other = [Watcher(private_client, "other") for _ in range(6)]
    answers = [await watch.start("events.list", {"actorId": "a"}) for watch in other]
    assert [a["ok"] for a in answers] == [True] * 5 + [False]
    # Stopping one of small's watches makes room for one more.
    assert (await small[0].ask("stop", {"watchId": small[0].watch_id}))["ok"] is True
    assert (await small[2].start("events.list", {"actorId": "b"}))["ok"] is True


BUSY_WATCHES = 200


async def test_another_tenants_push_arrives_before_a_busy_tenants_backlog_is_read(
    private_bus: ServiceFactory,
    private_client: NatsClient,
    mongo_client: AsyncMongoClient[Document],
) -> None:
    # One re-evaluation at a time: the busy tenant's backlog is as long as it can be.
    bus = await private_bus(watch_max_concurrency=1)
    busy, calm = "busy", "calm"
    database = mongo_client[bus.settings.mongodb_db]
    await insert(
        database, "entities", *(entity(busy, f"c{n}", created=1_000 + n) for n in range(300))
    )
    arrivals: list[tuple[str, Document]] = []

    async def arrived(msg: Msg) -> None:
        arrivals.append((msg.subject.split(".")[1], json.loads(msg.data)))

    await private_client.subscribe("_INBOX.busy.>", cb=arrived)
    await private_client.subscribe("_INBOX.calm.>", cb=arrived)

    async def start(tenant: str, name: str, request: Document, n: int) -> None:
        body = {**request, "deliverTo": f"_INBOX.{tenant}.{n}"}
        reply = await private_client.request(
            watch_subject(tenant, name), json.dumps(body).encode(), timeout=30
        )
        assert json.loads(reply.data)["ok"] is True, reply.data

    # Distinct queries (distinct limits): one read each, none shared.
    for n in range(1, BUSY_WATCHES + 1):
        await start(busy, "entities.list", {"type": "creator", "limit": n}, n)
    await start(calm, "entities.get", {"id": "b1"}, 0)
    url = private_client.connected_url.geturl()  # type: ignore[union-attr]
    async with OneClient(busy, url) as one_busy, OneClient(calm, url) as one_calm:
        # A new newest creator enters every one of the busy tenant's pages.
        await one_busy.upsert_entity(
            id="new", type="creator", name="New", actor_id="admin", created_at=10**12
        )
        await eventually(lambda: _count(arrivals, busy), lambda n: n > 0)
        # The busy tenant's backlog is being read: now the calm tenant's change.
        await one_calm.upsert_entity(id="b1", type="creator", name="Bea", actor_id="admin")
        await eventually(lambda: _count(arrivals, calm), lambda n: n > 0, timeout_s=60)
        busy_before_calm = await _count(arrivals, busy)
        await eventually(lambda: _count(arrivals, busy), lambda n: n >= BUSY_WATCHES, timeout_s=120)
    calm_push = next(body for tenant, body in arrivals if tenant == calm)
    assert calm_push["result"]["id"] == "b1"
    # The calm tenant's push came while most of the busy tenant's reads still waited.
    assert busy_before_calm < BUSY_WATCHES // 2, busy_before_calm
    assert await _count(arrivals, busy) == BUSY_WATCHES


async def _count(arrivals: list[tuple[str, Document]], tenant: str) -> int:
    return sum(1 for who, _ in arrivals if who == tenant)
