"""A query replica receives the changes only while it holds watches: without any, ingest's
changes cost it nothing; with one, every change reaches it, from before the watch's first
read on."""

from collections.abc import Awaitable, Callable

import pytest
from nats.aio.client import Client as NatsClient

from one_bus import OneClient
from services.runtime.service import OneBusService
from services.watch.service import WatchService
from tests.fixtures.waiting import eventually
from tests.services.watch.conftest import ServiceFactory, Watcher
from tests.services.watch.test_leases_and_replicas import crash

pytestmark = pytest.mark.integration


def watches(bus: OneBusService) -> WatchService:
    assert bus.watches is not None
    return bus.watches


async def publish_events(one: OneClient, actor: str, count: int) -> None:
    for _ in range(count):
        await one.publish_event(
            type="payment_event", actor_id=actor, metadata={"status": "processed"}
        )


async def test_a_replica_without_watches_receives_no_changes(
    private_bus: ServiceFactory, private_nats_url: str, tenant: str
) -> None:
    await private_bus(watch_enabled=False)  # ingest: stores and republishes
    query_replica = watches(await private_bus(ingest=False))
    async with OneClient(tenant, private_nats_url) as one:
        await publish_events(one, "a", 5)
        # Read after the session's writes: their changes are in the stream by now.
        assert len((await one.query("events.list", {"actorId": "a"}))["items"]) == 5

    # A follower would have them within milliseconds.
    await eventually(_seen(query_replica), lambda seen: seen > 0, timeout_s=1)
    assert query_replica.changes_seen == 0
    assert query_replica._follower.following is False


async def test_a_watch_makes_its_replica_follow_the_changes_until_it_ends(
    private_bus: ServiceFactory, private_client: NatsClient, private_nats_url: str, tenant: str
) -> None:
    query_replica = watches(await private_bus())
    watcher = Watcher(private_client, tenant)
    await watcher.start("events.list", {"actorId": "a"})
    assert query_replica._follower.following is True

    async with OneClient(tenant, private_nats_url) as one:
        # A change landing right after the watch started is pushed.
        await publish_events(one, "a", 1)
        await watcher.until(lambda m: len(m["result"]["items"]) == 1)
        assert query_replica.changes_seen >= 1

        await watcher.close()
        # Released at the next tick of the upkeep (every `watch_heartbeat_s`).
        await eventually(lambda: _following(query_replica), lambda following: not following)
        seen = query_replica.changes_seen
        await publish_events(one, "a", 3)
        assert len((await one.query("events.list", {"actorId": "a"}))["items"]) == 4
        await eventually(_seen(query_replica), lambda now: now > seen, timeout_s=1)

    assert query_replica.changes_seen == seen


async def test_a_replica_without_watches_follows_the_changes_once_it_takes_one_over(
    private_bus: ServiceFactory, private_client: NatsClient, private_nats_url: str, tenant: str
) -> None:
    await private_bus(watch_enabled=False)  # ingest
    doomed = await private_bus(ingest=False)
    watcher = Watcher(private_client, tenant)
    await watcher.start("entities.get", {"id": "e1"})
    survivor = watches(await private_bus(ingest=False))
    assert survivor._follower.following is False

    await crash(doomed)
    await eventually(lambda: _served(survivor), lambda served: served == 1)
    async with OneClient(tenant, private_nats_url) as one:
        await one.upsert_entity(id="e1", type="creator", name="E1", actor_id="a")
        pushed = await watcher.until(lambda m: m["result"] is not None)

    assert pushed["result"]["id"] == "e1"
    assert survivor._follower.following is True


async def _served(service: WatchService) -> int:
    return len(service.registry)


async def _following(service: WatchService) -> bool:
    return service._follower.following


def _seen(service: WatchService) -> Callable[[], Awaitable[int]]:
    async def probe() -> int:
        return service.changes_seen

    return probe
