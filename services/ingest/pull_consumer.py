"""The ingest loop: tenants' lanes feed a fair queue, batches are taken from it in turn.

One tenant's import must be nobody else's latency (docs/tenancy.md). Every tenant has
its own durable consumer, a lane (lanes.py); what the lanes deliver waits in a fair queue
(fair_queue.py), and each write batch is taken from the lanes with work in turn. A
backlog of 100,000 in one lane costs another tenant's message at most the batches
already in hand; alone, the backlog still drains in full batches.

Written on nats-py (the client FastStream wraps) rather than FastStream's pull
subscriber, because ingest needs guarantees that subscriber does not give: a delivered
message is never dropped, a message is taken as soon as it is stored (low latency when
traffic is light, full batches under load), and stop() drains: the batches in hand are
finished and acked, what was delivered and not taken is handed back at once.

Up to `ingest_concurrency` batches are in hand at once: while one batch's changes are
published and its messages acked, the next one is written, so the store is not left idle
between batches (docs/benchmarks.md). Batches in hand at once are like replicas side by
side, which every write is made for: entities swap on `rev`, the rest is guarded or
idempotent.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from services.ingest.fair_queue import FairQueue
from services.ingest.lanes import Lane, LaneSet, PullPolicy, migrate_legacy_consumer
from services.settings import Settings

log = logging.getLogger(__name__)

BatchCallback = Callable[[Sequence[Msg]], Awaitable[None]]

# Messages a lane may take of each write batch per visit; a lane alone takes them all.
_QUANTUM_SHARE = 8
# While several lanes have work, batches are this many times smaller (_batch_limit).
_SHARED_BATCH = 4


class PullConsumer:
    def __init__(
        self, nc: NatsClient, js: JetStreamContext, settings: Settings, on_batch: BatchCallback
    ) -> None:
        self._nc = nc
        self._js = js
        self._settings = settings
        self._on_batch = on_batch
        self._queue: FairQueue[str, Msg] = FairQueue(max(1, settings.batch_size // _QUANTUM_SHARE))
        batch = settings.batch_size
        self._lanes = LaneSet(
            nc,
            js,
            settings,
            # Up to two batches delivered ahead per lane: a lone backlog never waits on a
            # pull between batches. Bounded by what the consumer lets one replica hold.
            PullPolicy(
                low=batch,
                high=min(2 * batch, settings.max_ack_pending),
                expiry_s=settings.ingest_lane_pull_expiry_s,
            ),
            self._arrived,
            self._dropped,
            self._queue.queued,
        )
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._discovery: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await migrate_legacy_consumer(self._js, self._nc, self._settings)
        await self._lanes.refresh()
        self._task = asyncio.create_task(self._run(), name="one-bus-ingest")
        self._discovery = asyncio.create_task(self._discover(), name="one-bus-ingest-lanes")

    @property
    def fetching(self) -> bool:
        """Bound to the lanes and the loop alive (what readiness reports)."""
        return (
            self._task is not None
            and not self._task.done()
            and self._discovery is not None
            and not self._discovery.done()
        )

    @property
    def tenants(self) -> set[str]:
        """The tenants this replica has a lane for."""
        return set(self._lanes.lanes)

    def connection_restored(self) -> None:
        """After a reconnect: the pull requests went with the old connection."""
        self._lanes.forget_requests()
        self._wake.set()

    async def stop(self) -> None:
        """Finish the batches in hand, hand back the rest, then stop taking."""
        self._stopping.set()
        self._wake.set()
        if self._discovery is not None:
            self._discovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._discovery
            self._discovery = None
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.drain_timeout_s)
            except TimeoutError:
                log.warning("ingest did not drain within %.1f s", self._settings.drain_timeout_s)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        # Messages delivered after the last batch was taken: handed back now, so another
        # replica (or this one restarted) takes them without waiting out ack_wait.
        await self._lanes.close()
        for msg in self._queue.drain():
            await self._hand_back(msg)

    def _arrived(self, lane: Lane, msg: Msg) -> None:
        self._queue.put(lane.tenant, msg)
        self._wake.set()

    def _dropped(self, lane: Lane) -> None:
        # The tenant's consumer or stream is gone: what it had delivered cannot be acked.
        self._queue.drop(lane.tenant)

    async def _discover(self) -> None:
        """Lanes for tenants that appear, none for those removed; pulls renewed."""
        while True:
            await asyncio.sleep(self._settings.ingest_lane_discovery_s)
            try:
                await self._lanes.refresh()
            except (NatsError, TimeoutError) as error:
                log.warning("lane discovery failed, retrying: %r", error)
            await self._refill(list(self._lanes.lanes))

    async def _refill(self, tenants: Iterable[str]) -> None:
        """Lanes that have room ask for more (a lane that still has a request out or
        enough queued does nothing)."""
        for tenant in tenants:
            lane = self._lanes.lanes.get(tenant)
            if lane is not None:
                await lane.want(self._queue.queued(tenant))

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self._settings.ingest_concurrency)
        in_hand: set[asyncio.Task[None]] = set()
        try:
            await self._refill(list(self._lanes.lanes))
            while not self._stopping.is_set():
                await slots.acquire()
                while not self._queue and not self._stopping.is_set():
                    self._wake.clear()
                    await self._wake.wait()
                if self._stopping.is_set():
                    slots.release()
                    break
                taken = self._queue.take(self._batch_limit())
                await self._refill({tenant for tenant, _ in taken})
                batch = [msg for _, msg in taken]
                task = asyncio.create_task(self._process(batch))
                in_hand.add(task)
                task.add_done_callback(in_hand.discard)
                task.add_done_callback(lambda _: slots.release())
        except asyncio.CancelledError:
            # Not drained in time (stop()): the batches in hand go with this task.
            for task in in_hand:
                task.cancel()
            raise
        finally:
            # Stopping: the batches in hand are finished first.
            if in_hand:
                await asyncio.gather(*in_hand, return_exceptions=True)

    def _batch_limit(self) -> int:
        """A full batch while one lane has work: a lone backlog drains at full speed. A
        quarter of one while several have: another tenant's message waits for the
        batches in hand to be written, and a quarter batch is written about four times
        sooner (docs/tenancy.md has the figures)."""
        batch = self._settings.batch_size
        return batch if self._queue.lanes_with_work <= 1 else max(1, batch // _SHARED_BATCH)

    async def _process(self, messages: Sequence[Msg]) -> None:
        try:
            await self._on_batch(messages)
        except Exception:
            # A bug, not bad input: keep the messages (redelivered later) and keep running.
            log.exception("batch of %d failed unexpectedly; it will be redelivered", len(messages))
            for msg in messages:
                with contextlib.suppress(NatsError):
                    await msg.nak(delay=self._settings.retry_max_delay_s)

    async def _hand_back(self, msg: Msg) -> None:
        with contextlib.suppress(NatsError):
            await msg.nak()
