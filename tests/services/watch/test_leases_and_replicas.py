"""Leases, limits, restarts and replicas, each on a nats-server of the test's own."""

import asyncio
import json

import nats
import pytest
from nats.aio.client import Client as NatsClient

from one_bus import OneClient
from services.runtime.service import OneBusService
from services.watch.service import WatchService
from tests.fixtures.waiting import eventually
from tests.services.watch.conftest import ServiceFactory, Watcher


def watches(bus: OneBusService) -> WatchService:
    assert bus.watches is not None
    return bus.watches


async def test_a_watch_not_renewed_ends_when_its_lease_runs_out(
    private_bus: ServiceFactory, private_client: NatsClient, tenant: str
) -> None:
    await private_bus(watch_lease_s=1.0)
    kept, dropped = Watcher(private_client, tenant), Watcher(private_client, tenant)
    await kept.start("events.list", {"actorId": "a"})
    await dropped.start("events.list", {"actorId": "a"})
    for _ in range(6):  # 1.5 s: past the lease of the watch nobody renews
        assert (await kept.ask("renew", {"watchId": kept.watch_id}))["ok"] is True
        await asyncio.sleep(0.25)
    assert await dropped.next(5) == {
        "watchId": dropped.watch_id,
        "ended": True,
        "reason": "lease_expired",
    }
    assert kept.messages == []
    assert (await dropped.ask("renew", {"watchId": dropped.watch_id}))["error"][
        "code"
    ] == "not_found"


async def test_watches_per_tenant_and_per_connection_are_limited(
    private_bus: ServiceFactory, private_client: NatsClient, tenant: str
) -> None:
    await private_bus(watch_max_per_tenant=3, watch_max_per_connection=2)
    first = [Watcher(private_client, tenant) for _ in range(3)]
    for watch in first[:2]:
        assert (await watch.start("events.list", {"actorId": "a"}))["ok"] is True
    over = await first[2].start("events.list", {"actorId": "a"})
    assert over["error"]["code"] == "limit_exceeded"
    assert "connection" in over["error"]["message"]

    async with OneClient(tenant, private_client.connected_url.geturl()) as other:  # type: ignore[union-attr]
        third = Watcher(other.nats, tenant)
        assert (await third.start("events.list", {"actorId": "a"}))["ok"] is True
        fourth = Watcher(other.nats, tenant)
        refused = await fourth.start("events.list", {"actorId": "a"})
        assert refused["error"]["code"] == "limit_exceeded"
        assert "tenant" in refused["error"]["message"]
        # A stopped watch frees its place.
        await third.ask("stop", {"watchId": third.watch_id})
        assert (await fourth.start("events.list", {"actorId": "a"}))["ok"] is True


async def test_a_watch_survives_a_restart_of_the_service(
    private_bus: ServiceFactory, private_nats_url: str, private_client: NatsClient, tenant: str
) -> None:
    before = await private_bus()
    watch = Watcher(private_client, tenant)
    await watch.start("events.list", {"actorId": "u"})
    async with OneClient(tenant, private_nats_url) as one:
        await one.publish_event(
            type="payment_event", actor_id="u", metadata={"status": "processed"}
        )
        first = await watch.until(lambda m: len(m["result"]["items"]) == 1)
        await before.stop()
        # Written while no replica runs: the next one finds the watch and pushes it.
        await one.publish_event(
            type="payment_event", actor_id="u", metadata={"status": "processed"}
        )
        after = await private_bus()
        caught_up = await watch.until(lambda m: len(m["result"]["items"]) == 2)
        assert caught_up["version"] > first["version"]
        assert (await watch.ask("renew", {"watchId": watch.watch_id}))["ok"] is True
        await one.publish_event(
            type="payment_event", actor_id="u", metadata={"status": "processed"}
        )
        later = await watch.until(lambda m: len(m["result"]["items"]) == 3)
        assert later["version"] > caught_up["version"]
    assert watch.watch_id in watches(after).registry
    versions = [m["version"] for m in watch.messages]
    assert versions == sorted(set(versions))


async def test_two_replicas_share_the_watches_and_one_takes_over_from_the_other(
    private_bus: ServiceFactory, private_nats_url: str, private_client: NatsClient, tenant: str
) -> None:
    one_replica, other_replica = await private_bus(), await private_bus()
    watchers = [Watcher(private_client, tenant) for _ in range(12)]
    for n, watch in enumerate(watchers):
        await watch.start("events.list", {"actorId": f"u{n}"})
    served = [len(watches(r).registry) for r in (one_replica, other_replica)]
    assert sum(served) == 12
    assert min(served) > 0, f"one replica serves them all: {served}"

    async with OneClient(tenant, private_nats_url) as one:
        for n in range(12):
            await one.publish_event(
                type="payment_event", actor_id=f"u{n}", metadata={"status": "processed"}
            )
        for watch in watchers:
            await watch.until(lambda m: len(m["result"]["items"]) == 1)
        # One replica goes away: the other serves all twelve, and pushes as before.
        await one_replica.stop()
        survivor = watches(other_replica)
        await eventually(lambda: _served(survivor), lambda n: n == 12)
        assert len(survivor.registry) == 12
        for n in range(12):
            await one.publish_event(
                type="payment_event", actor_id=f"u{n}", metadata={"status": "processed"}
            )
        for watch in watchers:
            await watch.until(lambda m: len(m["result"]["items"]) == 2)
            assert all(len(m["result"]["items"]) <= 2 for m in watch.messages)


async def _served(service: WatchService) -> int:
    return len(service.registry)


async def crash(service: OneBusService) -> None:
    """The process dies: no more heartbeats, no clean goodbye, its connection drops."""
    watch_side = watches(service)
    for task in watch_side._tasks:
        task.cancel()
    await service.nats.close()


async def test_a_replica_that_dies_loses_its_watches_to_the_survivor(
    private_bus: ServiceFactory, private_nats_url: str, private_client: NatsClient, tenant: str
) -> None:
    # Ingest first: it declares the changes stream a query-only replica's watches follow.
    survivor = await private_bus()
    doomed = await private_bus(ingest=False)
    watchers = [Watcher(private_client, tenant) for _ in range(8)]
    for n, watch in enumerate(watchers):
        await watch.start("entities.get", {"id": f"e{n}"})
    orphans = len(watches(doomed).registry)
    assert orphans > 0
    await crash(doomed)
    # Once its heartbeat is older than watch_replica_timeout_s, the survivor claims them.
    await eventually(lambda: _served(watches(survivor)), lambda n: n == 8)
    assert len(watches(survivor).registry) == 8
    async with OneClient(tenant, private_nats_url) as one:
        for n in range(8):
            await one.upsert_entity(id=f"e{n}", type="creator", name=f"E{n}", actor_id="a")
        for n, watch in enumerate(watchers):
            pushed = await watch.until(lambda m: m["result"] is not None)
            assert pushed["result"]["id"] == f"e{n}"


async def test_without_its_kv_bucket_the_watch_side_is_off_and_queries_still_answer(
    private_bus: ServiceFactory, private_client: NatsClient, tenant: str
) -> None:
    # Operators manage the streams (and the bucket), and have not created the bucket.
    service = await private_bus(ingest=False, declare_streams=False)
    assert service.watches is None
    answer = await private_client.request(f"one.v1.{tenant}.query.entities.get", b'{"id": "x"}', 10)
    assert b"not_found" in answer.data
    with pytest.raises(nats.errors.NoRespondersError):
        await private_client.request(
            f"one.v1.{tenant}.watch.entities.get", b'{"id": "x", "deliverTo": "_INBOX.a.b"}', 2
        )


async def test_a_result_that_outgrows_the_max_payload_ends_the_watch(
    private_bus: ServiceFactory, private_nats_url: str, private_client: NatsClient, tenant: str
) -> None:
    service = await private_bus()
    # The embedded server's max payload is 1 MiB; the service's connection is told 4 KiB
    # (what nats-py checks publishes against), so a page of long names outgrows it.
    service.nats._max_payload = 4096
    watch = Watcher(private_client, tenant)
    await watch.start("entities.list", {"type": "creator", "limit": 100})
    async with OneClient(tenant, private_nats_url) as one:
        for n in range(30):
            await one.upsert_entity(id=f"c{n}", type="creator", name="x" * 200, actor_id="a")
    ended = await watch.until(lambda m: m.get("ended") is True)
    assert ended == {"watchId": watch.watch_id, "ended": True, "reason": "result_too_large"}
    assert all(len(json.dumps(m)) <= 4096 for m in watch.messages)


async def test_a_query_replica_started_before_ingest_turns_live_queries_on_later(
    private_bus: ServiceFactory, private_client: NatsClient, tenant: str
) -> None:
    query_only = await private_bus(ingest=False)
    assert query_only.watches is None  # no changes stream yet: nothing to follow
    await private_bus()  # ingest declares the streams

    async def on() -> bool:
        return query_only.watches is not None

    assert await eventually(on, bool, timeout_s=30)
    watch = Watcher(private_client, tenant)
    first = await watch.start("entities.get", {"id": "late"})
    assert first["data"]["version"] == 1
