"""What a watcher's requests do: start a watch (within the limits), renew its lease, stop
it. The responder (responder.py) validates the requests first and maps the errors here to
replies (`limit_exceeded`, `not_found`).

Separate because a request is the one path that creates a watch, and its order matters:
counted against the limits before anything is read (so two requests in quick succession
cannot both take the last place), indexed before its first read (so a change landing
during that read marks it dirty), recorded in the bucket only once the read succeeded,
and pushed to only once the reply can have gone out (`ready`). Renewals and stops may
reach any replica, not only the owner: both are compare-and-set writes on the record.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contracts.clock import now_ms
from contracts.queries import Query
from services.watch.bucket import BucketPort, Conflict, WatchRecord
from services.watch.changes import ChangeFollower
from services.watch.coalescer import Coalescer
from services.watch.evaluator import Evaluation, query_key
from services.watch.matcher import page_edge, result_keys
from services.watch.mirror import BucketMirror
from services.watch.pusher import ATTEMPTS, Pusher, ended_body
from services.watch.registry import Registry, Watched


class LimitExceededError(Exception):
    pass


class WatchGoneError(Exception):
    """No such watch for this tenant (stopped, expired, or never was)."""


@dataclass(frozen=True, slots=True)
class Started:
    watch_id: str
    evaluation: Evaluation
    lease_s: float


@dataclass(frozen=True, slots=True)
class WatchLimits:
    lease_s: float
    # A tenant's `max_watches` (its quota in the tenant directory, else the deployment's).
    max_per_tenant: Callable[[str], int]
    max_per_connection: int


class Evaluating(Protocol):
    """The evaluator as far as a first result goes (evaluator.py; a fake in unit tests)."""

    async def evaluate(
        self, tenant: str, name: str, request: Query, *, in_turn: bool = False
    ) -> Evaluation: ...


class WatchIntake:
    def __init__(
        self,
        replica_id: str,
        limits: WatchLimits,
        bucket: BucketPort,
        mirror: BucketMirror,
        registry: Registry,
        evaluator: Evaluating,
        follower: ChangeFollower,
        coalescer: Coalescer,
        pusher: Pusher,
        *,
        forget: Callable[[str], None],
    ) -> None:
        self._replica_id = replica_id
        self._limits = limits
        self._bucket = bucket
        self._mirror = mirror
        self._registry = registry
        self._evaluator = evaluator
        self._follower = follower
        self._coalescer = coalescer
        self._pusher = pusher
        # Drops a watch this replica no longer serves (registry and dirty marks).
        self._forget = forget

    def check_limits(self, tenant: str, connection: str) -> None:
        tenant_count = self._mirror.watches_of_tenant(tenant)
        if tenant_count >= self._limits.max_per_tenant(tenant):
            raise LimitExceededError(
                f"tenant {tenant!r} has {tenant_count} watches, the most allowed"
            )
        connection_count = self._mirror.watches_of_connection(connection)
        if connection_count >= self._limits.max_per_connection:
            raise LimitExceededError(
                f"this connection has {connection_count} watches, the most allowed"
            )

    async def start_watch(
        self, tenant: str, name: str, request: Query, deliver_to: str, connection: str
    ) -> Started:
        """Evaluate, record in the bucket and serve a new watch; raises what the
        evaluation raises."""
        self.check_limits(tenant, connection)
        watch_id = uuid.uuid4().hex
        lease_s = self._limits.lease_s
        record = WatchRecord(
            watchId=watch_id,
            tenant=tenant,
            query=name,
            request=request.model_dump(mode="json", exclude_unset=True),
            deliverTo=deliver_to,
            connection=connection,
            leaseS=lease_s,
            expiresAtMs=now_ms() + int(lease_s * 1000),
            version=1,
            resultHash=None,
            owner=self._replica_id,
        )
        self._mirror.expect(record)
        # Indexed before the first read: a change landing during it marks it dirty.
        watched = Watched(
            watch_id, tenant, name, request, deliver_to, query_key(tenant, name, request)
        )
        watched.ready = False
        self._registry.add(watched)
        try:
            await self._follower.follow()
            with self._follower.noting(tenant) as noted:
                evaluation = await self._evaluator.evaluate(tenant, name, request)
            record = record.model_copy(update={"resultHash": evaluation.digest})
            revision = await self._bucket.create(record)
        except BaseException:
            self._registry.remove(watch_id)
            self._mirror.abandon(watch_id)
            raise
        self._mirror.remember(watch_id, record, revision)
        watched.result_hash = evaluation.digest
        self._registry.set_result(
            watched,
            result_keys(name, request, evaluation.result),
            page_edge(name, request, evaluation.result),
        )
        self._follower.recheck(watched, noted)
        watched.ready = True
        self._coalescer.release(watch_id)
        return Started(watch_id, evaluation, lease_s)

    async def renew(self, tenant: str, watch_id: str) -> float:
        """Extend the lease by `leaseS` from now; raises WatchGoneError."""
        # The mirror first (no read of the bucket); a stale revision only costs a retry.
        found = self._mirror.get(watch_id)
        for _ in range(ATTEMPTS):
            if found is None:
                found = await self._bucket.get(watch_id)
            if found is None or found[0].tenant != tenant:
                raise WatchGoneError(watch_id)
            record, revision = found
            renewed = record.model_copy(
                update={"expiresAtMs": now_ms() + int(record.leaseS * 1000)}
            )
            try:
                revision = await self._bucket.update(renewed, revision)
            except Conflict:
                found = None  # the owner pushed meanwhile: read again
                continue
            self._mirror.remember(watch_id, renewed, revision)
            return record.leaseS
        raise TimeoutError("the watch kept changing; try again")

    async def stop_watch(self, tenant: str, watch_id: str) -> None:
        found = await self._bucket.get(watch_id)
        if found is None or found[0].tenant != tenant:
            raise WatchGoneError(watch_id)
        await self._bucket.delete(watch_id)
        self._forget(watch_id)
        await self._pusher.publish(found[0].deliverTo, ended_body(watch_id, "stopped"))
