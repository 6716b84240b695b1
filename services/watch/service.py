"""One replica of the watch side: accepts watches, follows the changes, pushes new results.

- **Ownership.** The replica that accepts a watch serves it (queue groups share the
  requests, so replicas share the watches). Its record in the KV bucket names it as
  owner; a replica whose heartbeat stops (or that stops cleanly) loses its watches to the
  live replica that rendezvous hashing picks for each, which claims it with a
  compare-and-set, evaluates it and pushes if the result differs from the last pushed one.
  So a restart or a failover shows the watcher at most one fresh push.
- **Matching.** Every replica follows `ONE_CHANGES` with an ordered consumer (new changes
  only: a replica that takes over re-evaluates anyway). A change marks dirty only the
  watches the registry finds for it (registry.py, matcher.py): an unrelated change costs
  no store read.
- **Coalescing.** Dirty watches wait `watch_coalesce_s`, then each distinct query among
  them is read once (watches of the same query share the read), and a watch is pushed
  only when its result's digest differs from the last pushed one.
- **Fairness.** Each distinct query's re-evaluation runs on its own, its read waiting for
  a store slot granted to tenants in turn (evaluator.py): the next flush does not wait
  for the previous one's reads, so a change of one tenant is read after at most one
  read per other waiting tenant, however many re-evaluations another tenant's churn
  queued. A query already being re-evaluated is read again once that read is done, if
  it was made dirty meanwhile (never two reads of one query at once).
- **Quotas.** A tenant holds at most its `max_watches` (its quota in the tenant
  directory; `watch_max_per_tenant` by default).
- **Versions.** A push first writes `version + 1` and the digest to the watch's record
  (compare-and-set), then publishes: versions only grow, whichever replica pushes.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import DeliverPolicy
from nats.js.errors import Error as JetStreamError
from prometheus_client import CollectorRegistry

from contracts.queries import Query
from contracts.subjects import CHANGES_WILDCARD
from contracts.tenancy import TenantQuotas
from contracts.watches import WATCHABLE_MODELS, EndReason
from services.query.admission import watch_quota
from services.query.dispatcher import MAX_REQUEST_BYTES
from services.settings import Settings
from services.store.port import StoreReads
from services.watch.evaluator import Evaluation, Evaluator, query_key
from services.watch.matcher import page_edge, result_keys
from services.watch.metrics import WatchMetrics
from services.watch.registry import Registry, Watched
from services.watch.store import BucketLimits, Conflict, WatchRecord, WatchStore, now_ms

log = logging.getLogger(__name__)

# Room under the server's max payload for the push's envelope around the result.
_ENVELOPE_BYTES: Final = 256


class LimitExceededError(Exception):
    pass


class WatchGoneError(Exception):
    """No such watch for this tenant (stopped, expired, or never was)."""


@dataclass(frozen=True, slots=True)
class Started:
    watch_id: str
    evaluation: Evaluation
    lease_s: float


def owner_of(watch_id: str, replicas: Iterable[str]) -> str:
    """Rendezvous hashing: each live replica takes an even share; a replica leaving moves
    only its own watches."""
    return max(
        replicas, key=lambda replica: hashlib.sha256(f"{watch_id}/{replica}".encode()).digest()
    )


def push_body(watch_id: str, version: int, encoded_result: bytes) -> bytes:
    head = json.dumps({"watchId": watch_id, "version": version})[:-1]
    return head.encode() + b', "result": ' + encoded_result + b"}"


def ended_body(watch_id: str, reason: EndReason) -> bytes:
    return json.dumps({"watchId": watch_id, "ended": True, "reason": reason}).encode()


class WatchService:
    def __init__(
        self,
        client: NatsClient,
        store_reads: StoreReads,
        settings: Settings,
        metrics_registry: CollectorRegistry | None = None,
        quotas: Callable[[str], TenantQuotas] | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        # Each tenant's `max_watches` (TenantDirectory.quotas; else the deployment's).
        self._max_watches = watch_quota(
            quotas or (lambda _tenant: settings.tenant_defaults), settings.watch_max_per_tenant
        )
        self.replica_id = uuid.uuid4().hex
        self.evaluator = Evaluator(store_reads, settings, on_read=lambda: self._metrics.reads.inc())
        self.registry = Registry()
        self._js = client.jetstream(timeout=settings.publish_ack_timeout_s)
        limits = BucketLimits(
            max_bytes=settings.watch_kv_max_bytes,
            max_age_s=max(settings.watch_kv_max_age_s, 2 * settings.watch_lease_s),
            # A record holds one request and a few fields around it.
            max_value_bytes=2 * MAX_REQUEST_BYTES,
        )
        self.store = WatchStore(
            self._js,
            settings.watch_kv_bucket,
            settings.stream_replicas,
            settings.declare_streams,
            limits,
            plain_inbox=settings.replies_to_plain_inbox,
        )
        # The mirror of the bucket: every watch (any owner) and every replica's heartbeat.
        self._records: dict[str, tuple[WatchRecord, int]] = {}
        self._per_tenant: Counter[str] = Counter()
        self._per_connection: Counter[str] = Counter()
        self._replicas: dict[str, int] = {}
        # Accepted here and not yet in the mirror: they count against the limits too.
        self._unseen: dict[str, WatchRecord] = {}
        self._dirty: set[str] = set()
        self._held: set[str] = set()
        self._dirty_event = asyncio.Event()
        # Query key → its re-evaluation in progress; the watches of that key made dirty
        # meanwhile, marked again when it is done.
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._deferred: dict[str, set[str]] = {}
        self._claiming: set[str] = set()
        # Reads in flight → (tenant, the changes of that tenant matched meanwhile). A read
        # may miss a change that lands while it runs, and the index still holds the old
        # result then: such changes are checked again against the new one.
        self._reading: dict[int, tuple[str, list[tuple[str, dict[str, Any]]]]] = {}
        self._next_read = 0
        self._claims: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._changes: Any = None
        # Counters for tests, benchmarks and operators.
        self.changes_seen = 0
        self.pushes = 0
        self._metrics = WatchMetrics(metrics_registry or CollectorRegistry(), self.registry.__len__)

    # Life cycle

    async def start(self) -> None:
        await self.store.open()
        # Our own heartbeat first: the mirror then always has a last key to load up to.
        await self.store.heartbeat(self.replica_id)
        await self.store.follow(self._on_record, self._on_replica)
        try:
            await asyncio.wait_for(self.store.loaded.wait(), self._settings.watch_load_wait_s)
        except TimeoutError:
            # A large bucket (or a slow server) must not keep live queries off: serve now,
            # while the mirror fills; until then the limits count fewer watches than exist.
            log.warning(
                "KV bucket %s not fully read in %.0f s: live queries start while it loads",
                self._settings.watch_kv_bucket,
                self._settings.watch_load_wait_s,
            )
        self._changes = await self._js.subscribe(
            CHANGES_WILDCARD,
            stream=self._settings.changes_stream,
            cb=self._on_change,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="watch-flush"),
            asyncio.create_task(self._tick_loop(), name="watch-tick"),
        ]

    async def stop(self) -> None:
        # The flag as well as the cancel: Python 3.11's wait_for (inside nats-py's requests)
        # can swallow a cancel that lands as its reply arrives, and the loop would go on.
        self._stopping = True
        tasks = [*self._tasks, *self._refreshing.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._settings.publish_ack_timeout_s + 1)
        self._tasks = []
        with contextlib.suppress(NatsError, JetStreamError):
            if self._changes is not None:
                await self._changes.unsubscribe()
            await self.store.close()
            if self.store.opened:
                # Gone at once, not after the heartbeat times out: the others take over now.
                await self.store.forget_replica(self.replica_id)

    # Requests (the responder validates them first)

    def check_limits(self, tenant: str, connection: str) -> None:
        unseen = self._unseen.values()
        tenant_count = self._per_tenant[tenant] + sum(r.tenant == tenant for r in unseen)
        if tenant_count >= self._max_watches(tenant):
            raise LimitExceededError(
                f"tenant {tenant!r} has {tenant_count} watches, the most allowed"
            )
        connection_count = self._per_connection[connection] + sum(
            r.connection == connection for r in unseen
        )
        if connection_count >= self._settings.watch_max_per_connection:
            raise LimitExceededError(
                f"this connection has {connection_count} watches, the most allowed"
            )

    async def start_watch(
        self, tenant: str, name: str, request: Query, deliver_to: str, connection: str
    ) -> Started:
        """Evaluate, store and serve a new watch; raises what the evaluation raises."""
        self.check_limits(tenant, connection)
        watch_id = uuid.uuid4().hex
        lease_s = self._settings.watch_lease_s
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
            owner=self.replica_id,
        )
        self._unseen[watch_id] = record
        # Indexed before the first read: a change landing during it marks it dirty.
        watched = Watched(
            watch_id, tenant, name, request, deliver_to, query_key(tenant, name, request)
        )
        watched.ready = False
        self.registry.add(watched)
        try:
            with self._noting_changes(tenant) as noted:
                evaluation = await self.evaluator.evaluate(tenant, name, request)
            record = record.model_copy(update={"resultHash": evaluation.digest})
            revision = await self.store.create(record)
        except BaseException:
            self.registry.remove(watch_id)
            self._unseen.pop(watch_id, None)
            raise
        self._remember(watch_id, record, revision)
        watched.result_hash = evaluation.digest
        self.registry.set_result(
            watched,
            result_keys(name, request, evaluation.result),
            page_edge(name, request, evaluation.result),
        )
        self._recheck(watched, noted)
        watched.ready = True
        if watch_id in self._held:
            self._held.discard(watch_id)
            self._mark(watch_id)
        return Started(watch_id, evaluation, lease_s)

    async def renew(self, tenant: str, watch_id: str) -> float:
        """Extend the lease by `leaseS` from now; raises WatchGoneError."""
        # The mirror first (no read of the bucket); a stale revision only costs a retry.
        found = self._records.get(watch_id)
        for _ in range(5):
            if found is None:
                found = await self.store.get(watch_id)
            if found is None or found[0].tenant != tenant:
                raise WatchGoneError(watch_id)
            record, revision = found
            renewed = record.model_copy(
                update={"expiresAtMs": now_ms() + int(record.leaseS * 1000)}
            )
            try:
                self._remember(watch_id, renewed, await self.store.update(renewed, revision))
            except Conflict:
                found = None  # the owner pushed meanwhile: read again
                continue
            return record.leaseS
        raise TimeoutError("the watch kept changing; try again")

    async def stop_watch(self, tenant: str, watch_id: str) -> None:
        found = await self.store.get(watch_id)
        if found is None or found[0].tenant != tenant:
            raise WatchGoneError(watch_id)
        await self.store.delete(watch_id)
        self._forget_local(watch_id)
        await self._publish(found[0].deliverTo, ended_body(watch_id, "stopped"))

    # The mirror

    def _remember(self, watch_id: str, record: WatchRecord, revision: int) -> None:
        known = self._records.get(watch_id)
        if known is None or known[1] < revision:
            self._on_record(watch_id, record, revision)

    def _on_record(self, watch_id: str, record: WatchRecord | None, revision: int) -> None:
        known = self._records.get(watch_id)
        if known is not None and known[1] > revision:
            return  # an older revision than one we wrote ourselves
        if record is None:
            if known is not None:
                del self._records[watch_id]
                self._count(known[0], -1)
            self._forget_local(watch_id)
            return
        self._unseen.pop(watch_id, None)
        if known is None:
            self._count(record, 1)
        self._records[watch_id] = (record, revision)
        if record.owner != self.replica_id and watch_id in self.registry:
            # Another replica claimed it (it thought us gone): it serves it now.
            self._forget_local(watch_id)

    def _count(self, record: WatchRecord, delta: int) -> None:
        self._per_tenant[record.tenant] += delta
        self._per_connection[record.connection] += delta
        for counter, key in (
            (self._per_tenant, record.tenant),
            (self._per_connection, record.connection),
        ):
            if counter[key] <= 0:
                del counter[key]

    def _on_replica(self, replica_id: str, at_ms: int | None) -> None:
        if at_ms is None:
            self._replicas.pop(replica_id, None)
        else:
            self._replicas[replica_id] = at_ms

    def _forget_local(self, watch_id: str) -> None:
        self.registry.remove(watch_id)
        self._dirty.discard(watch_id)
        self._held.discard(watch_id)

    # Changes → dirty watches → one read per distinct query → pushes

    async def _on_change(self, msg: Msg) -> None:
        self.changes_seen += 1
        self._metrics.changes.inc()
        tokens = msg.subject.split(".")
        if len(tokens) < 5:
            return
        if not self.registry and not self._reading:
            # No watch here and no read in flight: nothing a change could mark. A replica
            # without watches then pays the delivery alone, not the decoding (issue 22).
            return
        try:
            change = json.loads(msg.data)
            collection, record = change["collection"], change["record"]
        except (ValueError, KeyError, TypeError):
            return
        if not isinstance(collection, str) or not isinstance(record, dict):
            return
        for tenant, noted in self._reading.values():
            if tenant == tokens[2]:
                noted.append((collection, record))
        for watch_id in self.registry.candidates(tokens[2], collection, record):
            self._mark(watch_id)

    @contextlib.contextmanager
    def _noting_changes(self, tenant: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """The changes of `tenant` that arrive while the block runs (a read)."""
        self._next_read += 1
        token, noted = self._next_read, list[tuple[str, dict[str, Any]]]()
        self._reading[token] = (tenant, noted)
        try:
            yield noted
        finally:
            del self._reading[token]

    def _recheck(self, watched: Watched, noted: list[tuple[str, dict[str, Any]]]) -> None:
        """After a read: a change that landed during it and may alter the new result makes
        the watch dirty again."""
        if any(self.registry.affects(watched, collection, record) for collection, record in noted):
            self._mark(watched.watch_id)

    def _mark_again(self, group: list[Watched]) -> None:
        for watched in group:
            if watched.watch_id in self.registry:
                self._mark(watched.watch_id)

    def _mark(self, watch_id: str) -> None:
        self._dirty.add(watch_id)
        self._dirty_event.set()

    async def _flush_loop(self) -> None:
        while not self._stopping:
            await self._dirty_event.wait()
            # The coalescing window: changes landing meanwhile join this re-evaluation.
            await asyncio.sleep(self._settings.watch_coalesce_s)
            dirty, self._dirty = self._dirty, set()
            self._dirty_event.clear()
            groups: dict[str, list[Watched]] = {}
            for watch_id in dirty:
                watched = self.registry.watches.get(watch_id)
                if watched is None:
                    continue
                if not watched.ready:
                    self._held.add(watch_id)  # its creation will mark it again
                    continue
                if watched.query_key in self._refreshing:
                    self._deferred.setdefault(watched.query_key, set()).add(watch_id)
                    continue
                groups.setdefault(watched.query_key, []).append(watched)
            for key, group in groups.items():
                # Not awaited: the next changes are flushed while these reads wait their
                # turn for a slot (evaluator.py), so no tenant waits for another's batch.
                task = asyncio.create_task(self._refresh_safely(group))
                self._refreshing[key] = task
                task.add_done_callback(functools.partial(self._refreshed, key))

    def _refreshed(self, key: str, _task: "asyncio.Task[None]") -> None:
        self._refreshing.pop(key, None)
        for watch_id in self._deferred.pop(key, ()):
            if watch_id in self.registry:
                self._mark(watch_id)

    async def _refresh_safely(self, group: list[Watched]) -> None:
        """A failure of one group (the bucket unreachable mid-push, ...) must not end the
        loop that serves them all: it is logged and the group tried again after a pause."""
        try:
            await self._refresh(group)
        except Exception:
            log.exception("refreshing %d watches of %s failed", len(group), group[0].name)
            asyncio.get_running_loop().call_later(
                self._settings.retry_base_delay_s, self._mark_again, group
            )

    async def _refresh(self, group: list[Watched]) -> None:
        first = group[0]
        try:
            # Changes are noted from the moment the read can start, not while it waits
            # its turn: one that lands before the read is in what the read sees.
            async with self.evaluator.slot(first.tenant, in_turn=True):
                with self._noting_changes(first.tenant) as noted:
                    evaluation = await self.evaluator.read(first.tenant, first.name, first.request)
        except Exception as error:
            # The store is slow or away: try again after a pause, as ingest does.
            log.warning("re-evaluating %s for %d watches failed: %r", first.name, len(group), error)
            asyncio.get_running_loop().call_later(
                self._settings.retry_base_delay_s, self._mark_again, group
            )
            return
        keys = result_keys(first.name, first.request, evaluation.result)
        edge = page_edge(first.name, first.request, evaluation.result)
        pushes = []
        for watched in group:
            if watched.watch_id not in self.registry:
                continue
            self.registry.set_result(watched, keys, edge)
            self._recheck(watched, noted)
            if evaluation.digest != watched.result_hash:
                pushes.append(self._deliver(watched, evaluation))
        await asyncio.gather(*pushes)

    async def _deliver(self, watched: Watched, evaluation: Evaluation) -> None:
        if len(evaluation.encoded) + _ENVELOPE_BYTES > self._client.max_payload:
            await self._end(watched.watch_id, watched.deliver_to, "result_too_large", None)
            return
        version = await self._commit(watched.watch_id, evaluation.digest)
        if version is None:
            return
        watched.version, watched.result_hash = version, evaluation.digest
        self.pushes += 1
        self._metrics.pushes.inc()
        await self._publish(
            watched.deliver_to, push_body(watched.watch_id, version, evaluation.encoded)
        )

    async def _commit(self, watch_id: str, digest: str) -> int | None:
        """Write the next version; None if the watch is gone or no longer ours."""
        current = self._records.get(watch_id)
        for _ in range(5):
            if current is None:
                current = await self.store.get(watch_id)
                if current is None:
                    self._forget_local(watch_id)
                    return None
            record, revision = current
            if record.owner != self.replica_id:
                self._forget_local(watch_id)
                return None
            pushed = record.model_copy(update={"version": record.version + 1, "resultHash": digest})
            try:
                self._remember(watch_id, pushed, await self.store.update(pushed, revision))
            except Conflict:
                current = None  # renewed meanwhile: read again
                continue
            return pushed.version
        self._mark(watch_id)  # kept losing: try again with the next flush
        return None

    async def _end(
        self, watch_id: str, deliver_to: str, reason: EndReason, revision: int | None
    ) -> None:
        try:
            await self.store.delete(watch_id, revision)
        except Conflict:
            return  # renewed at the last moment: it lives on
        self._forget_local(watch_id)
        await self._publish(deliver_to, ended_body(watch_id, reason))

    async def _publish(self, subject: str, body: bytes) -> None:
        try:
            await self._client.publish(subject, body)
        except NatsError as error:
            log.debug("could not push to %s: %r", subject, error)

    # Heartbeat, leases, takeover

    async def _tick_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._settings.watch_heartbeat_s)
            try:
                await self.store.heartbeat(self.replica_id)
                await self._expire_leases()
                self._take_over()
                await self._forget_silent_replicas()
            except (NatsError, JetStreamError) as error:
                log.warning("watch upkeep failed: %r", error)
            except Exception:
                log.exception("watch upkeep failed")

    async def _expire_leases(self) -> None:
        now = now_ms()
        for watch_id in list(self.registry.watches):
            known = self._records.get(watch_id)
            if known is None:
                continue
            record, revision = known
            if record.expiresAtMs <= now:
                await self._end(watch_id, record.deliverTo, "lease_expired", revision)

    async def _forget_silent_replicas(self) -> None:
        """Heartbeats of replicas that died without a goodbye, long after their watches
        moved: gone, so the bucket does not grow with every crash."""
        horizon = now_ms() - int(self._settings.watch_replica_timeout_s * 1000) * 10
        for replica, at in list(self._replicas.items()):
            if at < horizon:
                await self.store.forget_replica(replica)

    def live_replicas(self) -> set[str]:
        horizon = now_ms() - int(self._settings.watch_replica_timeout_s * 1000)
        live = {replica for replica, at in self._replicas.items() if at >= horizon}
        return live | {self.replica_id}

    def _take_over(self) -> None:
        live = self.live_replicas()
        for watch_id, (record, revision) in list(self._records.items()):
            if record.owner in live or watch_id in self._claiming:
                continue
            if owner_of(watch_id, live) == self.replica_id:
                self._claiming.add(watch_id)
                task = asyncio.create_task(self._claim(record, revision))
                self._claims.add(task)
                task.add_done_callback(self._claims.discard)

    async def _claim(self, record: WatchRecord, revision: int) -> None:
        try:
            await self._claim_once(record, revision)
        finally:
            self._claiming.discard(record.watchId)

    async def _claim_once(self, record: WatchRecord, revision: int) -> None:
        """Take the watch over if nobody did meanwhile."""
        claimed = record.model_copy(update={"owner": self.replica_id})
        try:
            new_revision = await self.store.update(claimed, revision)
        except Conflict:
            return  # another replica claimed it, or it was renewed: the next tick sees
        except (NatsError, JetStreamError) as error:
            log.warning("could not take watch %s over: %r", record.watchId, error)
            return
        self._remember(record.watchId, claimed, new_revision)
        model = WATCHABLE_MODELS[record.query]
        request = model.model_validate(record.request)
        watched = Watched(
            record.watchId,
            record.tenant,
            record.query,
            request,
            record.deliverTo,
            query_key(record.tenant, record.query, request),
            version=record.version,
            result_hash=record.resultHash,
        )
        self.registry.add(watched)
        # Changes were missed while nobody served it: read it now, push if it differs.
        self._mark(record.watchId)
