"""Which replica serves which watch, and for how long: heartbeats, leases, takeovers.

Separate because it is the part that runs on the clock rather than on changes, and its
decisions are what keeps replicas from serving a watch twice or not at all. The replica
that accepts a watch serves it (its record names it as owner). Every replica writes a
heartbeat each `watch_heartbeat_s`; once one has been silent for
`watch_replica_timeout_s` (or said goodbye), each of its watches goes to the live replica
rendezvous hashing picks (`owner_of`), which claims it with a compare-and-set on its
record and reads it again, so the watcher sees at most one fresh push. A watch served
here whose lease ran out ends (`lease_expired`); heartbeats of replicas long dead are
deleted, so the bucket does not grow with every crash.
"""

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final

from nats.errors import Error as NatsError
from nats.js.errors import Error as JetStreamError

from contracts.clock import now_ms
from contracts.watches import WATCHABLE_MODELS, EndReason
from services.watch.bucket import BucketPort, Conflict, WatchRecord
from services.watch.evaluator import query_key
from services.watch.mirror import BucketMirror
from services.watch.registry import Registry, Watched

log = logging.getLogger(__name__)

# A dead replica's heartbeat is deleted this many replica timeouts after its last beat.
_FORGET_AFTER_TIMEOUTS: Final = 10

End = Callable[[str, str, EndReason, int | None], Awaitable[None]]
Known = Mapping[str, tuple[WatchRecord, int]]


def owner_of(watch_id: str, replicas: Iterable[str]) -> str:
    """Rendezvous hashing: each live replica takes an even share; a replica leaving moves
    only its own watches."""
    return max(
        replicas, key=lambda replica: hashlib.sha256(f"{watch_id}/{replica}".encode()).digest()
    )


def orphans_to_claim(
    records: Known, live: set[str], replica_id: str, claiming: set[str]
) -> list[tuple[WatchRecord, int]]:
    """The watches whose owner is not live and which rendezvous hashing gives this
    replica (those it is claiming already aside)."""
    return [
        (record, revision)
        for watch_id, (record, revision) in records.items()
        if record.owner not in live
        and watch_id not in claiming
        and owner_of(watch_id, live) == replica_id
    ]


def expired(records: Known, served: Iterable[str], now: int) -> list[tuple[WatchRecord, int]]:
    """The watches served here whose lease ran out by `now`."""
    due = []
    for watch_id in served:
        known = records.get(watch_id)
        if known is not None and known[0].expiresAtMs <= now:
            due.append(known)
    return due


def watched_of(record: WatchRecord) -> Watched:
    """What serving the watch of `record` starts from: its request, last version, digest."""
    request = WATCHABLE_MODELS[record.query].model_validate(record.request)
    return Watched(
        record.watchId,
        record.tenant,
        record.query,
        request,
        record.deliverTo,
        query_key(record.tenant, record.query, request),
        version=record.version,
        result_hash=record.resultHash,
    )


class Ownership:
    def __init__(
        self,
        replica_id: str,
        bucket: BucketPort,
        mirror: BucketMirror,
        registry: Registry,
        *,
        heartbeat_s: float,
        replica_timeout_s: float,
        end: End,
        mark: Callable[[str], None],
        follow: Callable[[], Awaitable[None]],
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._replica_id = replica_id
        self._bucket = bucket
        self._mirror = mirror
        self._registry = registry
        self._heartbeat_s = heartbeat_s
        self._timeout_ms = int(replica_timeout_s * 1000)
        # Ends a watch and tells its watcher (pusher.py).
        self._end = end
        # Marks a watch dirty, to be read again (coalescer.py).
        self._mark = mark
        # Makes the changes come to this replica (changes.py).
        self._follow = follow
        self._clock = clock
        self._claiming: set[str] = set()
        self._claims: set[asyncio.Task[None]] = set()

    async def run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self.tick()
            except (NatsError, JetStreamError) as error:
                log.warning("watch upkeep failed: %r", error)
            except Exception:
                log.exception("watch upkeep failed")

    async def tick(self) -> None:
        """One round of upkeep: our heartbeat, leases, takeovers, dead replicas."""
        await self._bucket.heartbeat(self._replica_id)
        await self._expire_leases()
        self._take_over()
        await self._forget_silent_replicas()

    def live_replicas(self) -> set[str]:
        return self._mirror.live_replicas(self._clock() - self._timeout_ms)

    async def _expire_leases(self) -> None:
        due = expired(self._mirror.records, list(self._registry.watches), self._clock())
        for record, revision in due:
            await self._end(record.watchId, record.deliverTo, "lease_expired", revision)

    async def _forget_silent_replicas(self) -> None:
        horizon = self._clock() - self._timeout_ms * _FORGET_AFTER_TIMEOUTS
        for replica in self._mirror.silent_replicas(horizon):
            await self._bucket.forget_replica(replica)

    def _take_over(self) -> None:
        live = self.live_replicas()
        for record, revision in orphans_to_claim(
            self._mirror.records, live, self._replica_id, self._claiming
        ):
            self._claiming.add(record.watchId)
            task = asyncio.create_task(self._claim(record, revision))
            self._claims.add(task)
            task.add_done_callback(self._claims.discard)

    async def _claim(self, record: WatchRecord, revision: int) -> None:
        try:
            await self.claim(record, revision)
        finally:
            self._claiming.discard(record.watchId)

    async def claim(self, record: WatchRecord, revision: int) -> bool:
        """Take the watch over if nobody did meanwhile; whether this replica serves it."""
        claimed = record.model_copy(update={"owner": self._replica_id})
        try:
            new_revision = await self._bucket.update(claimed, revision)
        except Conflict:
            return False  # another replica claimed it, or it was renewed: the next tick sees
        except (NatsError, JetStreamError) as error:
            log.warning("could not take watch %s over: %r", record.watchId, error)
            return False
        self._mirror.remember(record.watchId, claimed, new_revision)
        self._registry.add(watched_of(claimed))
        try:
            # Before the read the mark makes: every change after that read reaches it.
            await self._follow()
        except (NatsError, JetStreamError) as error:
            # The follower's next look follows and reads every watch held again.
            log.warning("could not follow the changes for watch %s: %r", record.watchId, error)
        # Changes were missed while nobody served it: read it now, push if it differs.
        self._mark(record.watchId)
        return True
