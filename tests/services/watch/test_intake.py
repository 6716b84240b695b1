"""What a watcher's requests do (no servers): limits counted before the first read, a
watch indexed during it and recorded after it, renewals and stops by compare-and-set."""

import asyncio
from typing import Any, cast

import pytest
from nats.js import JetStreamContext

from contracts.clock import now_ms
from contracts.queries import EventsList
from services.watch.changes import ChangeFollower
from services.watch.coalescer import Coalescer
from services.watch.intake import LimitExceededError, WatchGoneError, WatchIntake, WatchLimits
from services.watch.mirror import BucketMirror
from services.watch.pusher import Pusher
from services.watch.registry import Registry, Watched
from tests.services.watch.fakes import (
    FakeBucket,
    FakeChanges,
    FakePublisher,
    FakeReader,
    evaluation,
)

EMPTY: dict[str, Any] = {"items": [], "nextCursor": None}
EVENT: dict[str, Any] = {"id": "v1", "type": "payment_event", "actorId": "u", "timestamp": 5,
                         "metadata": {}}  # fmt: skip


class Desk:
    """An intake with fakes around it: a tenant may hold 2 watches, an asker 1."""

    def __init__(self, max_per_tenant: int = 2, max_per_connection: int = 1) -> None:
        self.bucket = FakeBucket()
        self.client = FakePublisher()
        self.reader = FakeReader(EMPTY)
        self.registry = Registry()
        self.mirror = BucketMirror("me", lost=self.forget)

        async def refresh(_group: list[Watched]) -> None:
            return None

        self.coalescer = Coalescer(self.registry, 0.02, 0.01, refresh)
        self.follower = ChangeFollower(self.registry, self.coalescer.mark, lambda: None)
        self.follower.open(cast(JetStreamContext, FakeChanges()), "CHANGES")
        pusher = Pusher("me", self.client, self.bucket, self.mirror, self.registry,
                        self.reader, self.follower, self.coalescer, forget=self.forget)  # fmt: skip
        limits = WatchLimits(60.0, lambda _tenant: max_per_tenant, max_per_connection)
        self.intake = WatchIntake("me", limits, self.bucket, self.mirror, self.registry,
                                  self.reader, self.follower, self.coalescer, pusher,
                                  forget=self.forget)  # fmt: skip

    def forget(self, watch_id: str) -> None:
        self.registry.remove(watch_id)
        self.coalescer.forget(watch_id)

    async def start(self, connection: str = "_INBOX.c1", tenant: str = "acme") -> str:
        request = EventsList(actorId="u")
        started = await self.intake.start_watch(
            tenant, "events.list", request, f"{connection}.push", connection
        )
        return started.watch_id


async def test_a_new_watch_is_recorded_with_its_first_result_and_served_here() -> None:
    desk = Desk()
    watch_id = await desk.start()
    stored, _ = desk.bucket.records[watch_id]
    assert (stored.version, stored.owner, stored.resultHash) == (1, "me", evaluation(EMPTY).digest)
    assert desk.registry.watches[watch_id].ready
    assert desk.mirror.get(watch_id) == desk.bucket.records[watch_id]


async def test_a_watch_being_created_counts_against_the_limits_already() -> None:
    desk = Desk(max_per_tenant=1, max_per_connection=5)
    desk.reader.hold.clear()
    first = asyncio.create_task(desk.start())
    await asyncio.sleep(0)  # its first read has begun, nothing is in the bucket yet
    with pytest.raises(LimitExceededError, match="tenant 'acme' has 1 watches"):
        desk.intake.check_limits("acme", "_INBOX.c2")
    desk.reader.hold.set()
    await first
    with pytest.raises(LimitExceededError, match="this connection"):
        Desk(max_per_connection=0).intake.check_limits("acme", "_INBOX.c1")


async def test_a_failed_first_read_leaves_no_trace() -> None:
    desk = Desk()
    desk.reader.fail = True
    with pytest.raises(TimeoutError):
        await desk.start()
    assert desk.registry.watches == {}
    assert desk.bucket.records == {}
    assert desk.mirror.watches_of_tenant("acme") == 0


async def test_a_change_during_the_first_read_makes_the_watch_dirty_once_it_is_ready() -> None:
    desk = Desk()
    desk.reader.hold.clear()
    creating = asyncio.create_task(desk.start())
    await asyncio.sleep(0)
    desk.follower.changed("acme", "events", EVENT)
    assert desk.coalescer.take() == {}  # held back: the reply has not gone out yet
    desk.reader.hold.set()
    watch_id = await creating
    assert [w.watch_id for group in desk.coalescer.take().values() for w in group] == [watch_id]


async def test_a_renewal_extends_the_lease_even_after_the_owner_wrote_meanwhile() -> None:
    desk = Desk()
    watch_id = await desk.start()
    before, _ = desk.bucket.records[watch_id]
    pushed = before.model_copy(update={"version": 2, "expiresAtMs": 0})
    desk.bucket.put(pushed)  # the mirror still holds the older revision
    renewed_at = now_ms()
    assert await desk.intake.renew("acme", watch_id) == 60.0
    after, _ = desk.bucket.records[watch_id]
    assert after.version == 2
    assert after.expiresAtMs >= renewed_at + 60_000
    with pytest.raises(WatchGoneError):
        await desk.intake.renew("globex", watch_id)
    with pytest.raises(WatchGoneError):
        await desk.intake.renew("acme", "never-was")


async def test_a_stopped_watch_is_gone_and_its_watcher_told() -> None:
    desk = Desk()
    watch_id = await desk.start()
    with pytest.raises(WatchGoneError):
        await desk.intake.stop_watch("globex", watch_id)
    await desk.intake.stop_watch("acme", watch_id)
    assert desk.bucket.records == {}
    assert watch_id not in desk.registry
    assert desk.client.published == [
        ("_INBOX.c1.push", {"watchId": watch_id, "ended": True, "reason": "stopped"})
    ]
