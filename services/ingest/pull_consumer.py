"""The ingest pull loop: fetch a batch from the durable consumer, hand it over, repeat.

Written on nats-py (the client FastStream wraps) rather than FastStream's pull
subscriber, because ingest needs guarantees that subscriber does not give: a fetched
batch is never dropped (FastStream's loop discarded a partial batch when a fetch raised,
leaving it to wait out ack_wait), a fetch returns as soon as messages are there (low
latency when traffic is light, full batches under load), and stop() drains: the batch in
hand is finished and acked, nothing more is fetched.

Up to `ingest_concurrency` batches are in hand at once: while one batch's changes are
published and its messages acked, the next one is fetched and written, so the store is
not left idle between batches (docs/benchmarks.md). Batches in hand at once are like
replicas side by side, which every write is made for: entities swap on `rev`, the rest
is guarded or idempotent.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.subjects import PREFIX
from services.settings import Settings

log = logging.getLogger(__name__)

BatchCallback = Callable[[Sequence[Msg]], Awaitable[None]]


def ingest_consumer_config(settings: Settings) -> ConsumerConfig:
    """One durable consumer over every ingest subject, shared by all replicas."""
    return ConsumerConfig(
        durable_name=settings.ingest_consumer,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        # Never give up on a message: bad input is terminated explicitly, and anything
        # else is a transient failure worth retrying (with backoff) until it succeeds.
        max_deliver=-1,
        max_waiting=512,
    )


class PullConsumer:
    def __init__(self, js: JetStreamContext, settings: Settings, on_batch: BatchCallback) -> None:
        self._js = js
        self._settings = settings
        self._on_batch = on_batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        self._subscription = subscription = await self._js.pull_subscribe(
            f"{PREFIX}.>",
            durable=self._settings.ingest_consumer,
            stream=self._settings.ingest_stream,
            config=ingest_consumer_config(self._settings),
        )
        self._task = asyncio.create_task(self._run(subscription), name="one-bus-ingest")

    @property
    def fetching(self) -> bool:
        """Bound to the consumer and its loop alive (what readiness reports)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Finish the batch in hand, then stop fetching."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._task, timeout=self._settings.drain_timeout_s)
        except TimeoutError:
            log.warning("ingest did not drain within %.1f s", self._settings.drain_timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        if self._subscription is not None:
            # A message that arrived after the last fetch timed out sits in the
            # subscription's queue; a connection drain would wait for it forever. Unacked,
            # it is redelivered to a replica that is still running.
            with contextlib.suppress(NatsError):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _run(self, subscription: JetStreamContext.PullSubscription) -> None:
        slots = asyncio.Semaphore(self._settings.ingest_concurrency)
        in_hand: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                await slots.acquire()
                # Stopping while waiting for a slot: fetch nothing more.
                messages = [] if self._stopping.is_set() else await self._fetch(subscription)
                if not messages:
                    slots.release()
                    continue
                task = asyncio.create_task(self._process(messages))
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

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next batch; empty when none came in time or the fetch failed."""
        try:
            return await subscription.fetch(
                batch=self._settings.batch_size, timeout=self._settings.fetch_timeout_s
            )
        except TimeoutError:
            return []
        except NatsError as error:
            # Disconnected or reconnecting: nats-py reconnects by itself; wait a little.
            log.warning("fetch failed, retrying: %r", error)
            await asyncio.sleep(0.5)
            return []

    async def _process(self, messages: Sequence[Msg]) -> None:
        try:
            await self._on_batch(messages)
        except Exception:
            # A bug, not bad input: keep the messages (redelivered later) and keep running.
            log.exception("batch of %d failed unexpectedly; it will be redelivered", len(messages))
            for msg in messages:
                with contextlib.suppress(NatsError):
                    await msg.nak(delay=self._settings.retry_max_delay_s)
