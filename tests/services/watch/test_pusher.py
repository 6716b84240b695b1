"""Pushing (no servers): the version is written by compare-and-set before it is
published, only a changed result is pushed, and a watch no longer ours is let go."""

import asyncio
from typing import Any

from services.watch.changes import ChangeFollower
from services.watch.coalescer import Coalescer
from services.watch.mirror import BucketMirror
from services.watch.pusher import ATTEMPTS, Pusher, next_version
from services.watch.registry import Registry, Watched
from tests.services.watch.fakes import (
    FakeBucket,
    FakePublisher,
    FakeReader,
    evaluation,
    record,
    watched,
)

RESULT: dict[str, Any] = {"items": [{"id": "v1"}], "nextCursor": None}


class Side:
    """A pusher with fakes around it, serving watch `w1` whose record is in the bucket."""

    def __init__(self, *, max_payload: int = 1024 * 1024, owner: str = "me") -> None:
        self.bucket = FakeBucket()
        self.client = FakePublisher(max_payload)
        self.reader = FakeReader(RESULT)
        self.registry = Registry()
        self.mirror = BucketMirror("me", lost=self.forget)

        async def refresh(_group: list[Watched]) -> None:
            return None

        self.coalescer = Coalescer(self.registry, 0.02, 0.01, refresh)
        follower = ChangeFollower(self.registry, self.coalescer.mark, lambda: None)
        self.pusher = Pusher(
            "me",
            self.client,
            self.bucket,
            self.mirror,
            self.registry,
            self.reader,
            follower,
            self.coalescer,
            forget=self.forget,
        )
        stored = record("w1", owner=owner, version=1, resultHash="first")
        self.mirror.on_record("w1", stored, self.bucket.put(stored))
        self.watch = watched("w1", result_hash="first")
        self.registry.add(self.watch)

    def forget(self, watch_id: str) -> None:
        """As the facade lets a watch go: out of the index, no longer dirty."""
        self.registry.remove(watch_id)
        self.coalescer.forget(watch_id)

    def marked(self) -> list[str]:
        """The watches marked dirty so far (taken from the coalescer)."""
        return [w.watch_id for group in self.coalescer.take().values() for w in group]


def test_the_next_version_is_only_for_the_owner() -> None:
    pushed = next_version(record(version=3, owner="me"), "me", "d")
    assert pushed is not None
    assert (pushed.version, pushed.resultHash) == (4, "d")
    assert next_version(record(owner="other"), "me", "d") is None


async def test_a_changed_result_is_written_as_the_next_version_then_pushed() -> None:
    side = Side()
    await side.pusher.refresh([side.watch])
    stored, _ = side.bucket.records["w1"]
    assert (stored.version, stored.resultHash) == (2, evaluation(RESULT).digest)
    assert side.client.published == [
        ("_INBOX.c1.w1", {"watchId": "w1", "version": 2, "result": RESULT})
    ]
    assert (side.watch.version, side.pusher.pushes) == (2, 1)
    # The same result again: read, not pushed.
    await side.pusher.refresh([side.watch])
    assert side.reader.reads == 2
    assert len(side.client.published) == 1


async def test_a_renewal_landing_first_costs_a_read_of_the_record_not_the_push() -> None:
    side = Side()
    renewed = side.bucket.records["w1"][0].model_copy(update={"expiresAtMs": 2_000_000})
    side.bucket.put(renewed)  # the mirror has not seen it yet: its revision is stale
    assert await side.pusher.commit("w1", "new") == 2
    stored, _ = side.bucket.records["w1"]
    assert (stored.version, stored.expiresAtMs) == (2, 2_000_000)


async def test_a_watch_claimed_by_another_replica_is_let_go_unpushed() -> None:
    side = Side(owner="other")
    side.registry.add(side.watch)  # still indexed here when the claim shows
    await side.pusher.refresh([side.watch])
    assert "w1" not in side.registry
    assert side.client.published == []
    assert side.bucket.records["w1"][0].version == 1


async def test_losing_every_compare_and_set_tries_again_with_the_next_flush() -> None:
    side = Side()
    side.bucket.conflicts = ATTEMPTS
    assert await side.pusher.commit("w1", "new") is None
    assert side.marked() == ["w1"]
    assert side.bucket.records["w1"][0].version == 1


async def test_a_result_too_large_ends_the_watch() -> None:
    side = Side(max_payload=64)
    await side.pusher.refresh([side.watch])
    assert side.client.published == [
        ("_INBOX.c1.w1", {"watchId": "w1", "ended": True, "reason": "result_too_large"})
    ]
    assert "w1" not in side.bucket.records
    assert "w1" not in side.registry


async def test_a_failed_read_pushes_nothing_and_is_retried_after_a_pause() -> None:
    side = Side()
    side.reader.fail = True
    await side.pusher.refresh([side.watch])
    assert side.client.published == []
    assert side.bucket.records["w1"][0].version == 1
    assert side.marked() == []
    await asyncio.sleep(0.05)  # the retry delay is 0.01 s
    assert side.marked() == ["w1"]
