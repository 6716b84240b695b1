"""One replica of the watch side, behind one facade: what the responder and the runtime
hold, building the roles that serve the watches, wiring them together, starting and
stopping them.

The roles, each in its module:

- **The bucket** (bucket.py): watch records and replica heartbeats in a JetStream KV
  bucket; every write a compare-and-set on the key's revision.
- **The mirror** (mirror.py): what this replica knows of the bucket, counted against the
  limits (a tenant's `max_watches`, `watch_max_per_connection`).
- **Ownership** (ownership.py): heartbeats, leases, and rendezvous takeover of the watches
  of replicas gone silent.
- **Following changes** (changes.py): `ONE_CHANGES` matched against the watches served
  here; nothing slips between a read and its index.
- **Coalescing** (coalescer.py): dirty watches → one read per distinct query, after the
  coalescing window, never two reads of one query at once.
- **Pushing** (pusher.py): a re-evaluation pushed where the result changed, the version
  written (compare-and-set) before it is published.
- **Intake** (intake.py): what a watcher's requests do (`start_watch` within the
  limits, `renew`, `stop_watch`).
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import Error as JetStreamError
from prometheus_client import CollectorRegistry

from contracts.queries import Query
from contracts.tenancy import TenantQuotas
from services.query.admission import watch_quota
from services.query.dispatcher import MAX_REQUEST_BYTES
from services.settings import Settings
from services.store.port import StoreReads
from services.watch.bucket import BucketLimits, WatchBucket
from services.watch.changes import ChangeFollower
from services.watch.coalescer import Coalescer
from services.watch.evaluator import Evaluator
from services.watch.intake import Started, WatchIntake, WatchLimits
from services.watch.metrics import WatchMetrics
from services.watch.mirror import BucketMirror
from services.watch.ownership import Ownership
from services.watch.pusher import Pusher
from services.watch.registry import Registry, Watched

log = logging.getLogger(__name__)


class WatchService:
    def __init__(
        self,
        client: NatsClient,
        store_reads: StoreReads,
        settings: Settings,
        metrics_registry: CollectorRegistry | None = None,
        quotas: Callable[[str], TenantQuotas] | None = None,
    ) -> None:
        self._settings = settings
        self.replica_id = uuid.uuid4().hex
        self.registry = Registry()
        metrics = WatchMetrics(metrics_registry or CollectorRegistry(), self.registry.__len__)
        self.evaluator = Evaluator(store_reads, settings, on_read=metrics.reads.inc)
        self._js = client.jetstream(timeout=settings.publish_ack_timeout_s)
        bucket_limits = BucketLimits(
            max_bytes=settings.watch_kv_max_bytes,
            max_age_s=max(settings.watch_kv_max_age_s, 2 * settings.watch_lease_s),
            # A record holds one request and a few fields around it.
            max_value_bytes=2 * MAX_REQUEST_BYTES,
        )
        self.bucket = WatchBucket(
            self._js,
            settings.watch_kv_bucket,
            settings.stream_replicas,
            settings.declare_streams,
            bucket_limits,
            plain_inbox=settings.replies_to_plain_inbox,
        )
        self._mirror = BucketMirror(self.replica_id, lost=self._forget_local)
        self._coalescer = Coalescer(
            self.registry,
            settings.watch_coalesce_s,
            settings.retry_base_delay_s,
            refresh=self._refresh,
        )
        self._follower = ChangeFollower(self.registry, self._coalescer.mark, metrics.changes.inc)
        self._pusher = Pusher(
            self.replica_id,
            client,
            self.bucket,
            self._mirror,
            self.registry,
            self.evaluator,
            self._follower,
            self._coalescer,
            forget=self._forget_local,
            pushed=metrics.pushes.inc,
        )
        self._ownership = Ownership(
            self.replica_id,
            self.bucket,
            self._mirror,
            self.registry,
            heartbeat_s=settings.watch_heartbeat_s,
            replica_timeout_s=settings.watch_replica_timeout_s,
            end=self._pusher.end,
            mark=self._coalescer.mark,
            follow=self._follower.follow,
        )
        limits = WatchLimits(
            lease_s=settings.watch_lease_s,
            # Each tenant's `max_watches` (TenantDirectory.quotas; else the deployment's).
            max_per_tenant=watch_quota(
                quotas or (lambda _tenant: settings.tenant_defaults),
                settings.watch_max_per_tenant,
            ),
            max_per_connection=settings.watch_max_per_connection,
        )
        self._intake = WatchIntake(
            self.replica_id,
            limits,
            self.bucket,
            self._mirror,
            self.registry,
            self.evaluator,
            self._follower,
            self._coalescer,
            self._pusher,
            forget=self._forget_local,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def changes_seen(self) -> int:
        """Changes matched here so far (for tests, benchmarks and operators)."""
        return self._follower.changes_seen

    @property
    def pushes(self) -> int:
        """New results pushed so far."""
        return self._pusher.pushes

    # Life cycle

    async def start(self) -> None:
        await self.bucket.open()
        # Our own heartbeat first: the mirror then always has a last key to load up to.
        await self.bucket.heartbeat(self.replica_id)
        await self.bucket.follow(self._mirror.on_record, self._mirror.on_replica)
        try:
            await asyncio.wait_for(self.bucket.loaded.wait(), self._settings.watch_load_wait_s)
        except TimeoutError:
            # A large bucket (or a slow server) must not keep live queries off: serve now,
            # while the mirror fills; until then the limits count fewer watches than exist.
            log.warning(
                "KV bucket %s not fully read in %.0f s: live queries start while it loads",
                self._settings.watch_kv_bucket,
                self._settings.watch_load_wait_s,
            )
        self._follower.open(self._js, self._settings.changes_stream)
        stopping = self._is_stopping
        heartbeat_s = self._settings.watch_heartbeat_s
        self._tasks = [
            asyncio.create_task(self._coalescer.run(stopping), name="watch-flush"),
            asyncio.create_task(self._ownership.run(stopping), name="watch-tick"),
            asyncio.create_task(self._follower.run(stopping, heartbeat_s), name="watch-changes"),
        ]

    async def stop(self) -> None:
        # The flag as well as the cancel: Python 3.11's wait_for (inside nats-py's requests)
        # can swallow a cancel that lands as its reply arrives, and the loop would go on.
        self._stopping = True
        tasks = [*self._tasks, *self._coalescer.refreshing.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._settings.publish_ack_timeout_s + 1)
        self._tasks = []
        with contextlib.suppress(NatsError, JetStreamError):
            await self._follower.close()
            await self.bucket.close()
            if self.bucket.opened:
                # Gone at once, not after the heartbeat times out: the others take over now.
                await self.bucket.forget_replica(self.replica_id)

    def _is_stopping(self) -> bool:
        return self._stopping

    # Requests (the responder validates them first): intake.py

    async def start_watch(
        self, tenant: str, name: str, request: Query, deliver_to: str, connection: str
    ) -> Started:
        return await self._intake.start_watch(tenant, name, request, deliver_to, connection)

    async def renew(self, tenant: str, watch_id: str) -> float:
        return await self._intake.renew(tenant, watch_id)

    async def stop_watch(self, tenant: str, watch_id: str) -> None:
        await self._intake.stop_watch(tenant, watch_id)

    # Wiring between the roles

    async def _refresh(self, group: list[Watched]) -> None:
        await self._pusher.refresh(group)

    def _forget_local(self, watch_id: str) -> None:
        """This replica serves the watch no more: out of the index, no longer dirty."""
        self.registry.remove(watch_id)
        self._coalescer.forget(watch_id)
