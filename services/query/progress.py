"""How far ingest has got: what `after` (read-your-writes) waits for.

A request with `after: <seq>` (an ingest stream sequence, from a PubAck or an outcome) is
answered once every message of its tenant up to `seq` is done: stored or dead-lettered.
The tenant's ingest lane says exactly that: its `ack_floor.stream_seq` is the highest
sequence at and below which every message of its was acked (stored) or terminated
(dead-lettered), and a message is acked only after its write is in the store; a lane with
nothing pending is done up to the stream's end.

Reading the floor is a JetStream API round trip, so it is shared: the requests waiting on
one consumer register their sequence, and one task per consumer reads the floor every
`after_poll_s` while any of them waits, releases those it reached and stops when none is
left. A request whose sequence the last floor read already covers waits for nothing.
Without `after`, none of this runs.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from services.ingest.lanes import lane_consumer
from services.settings import Settings

log = logging.getLogger(__name__)


def progress_consumer(settings: Settings, tenant: str) -> tuple[str, str]:
    """(stream, durable) of the consumer whose ack floor is `tenant`'s ingest progress:
    the tenant's lane (services/ingest/lanes.py)."""
    return lane_consumer(settings, tenant)


def _idle(info: ConsumerInfo) -> bool:
    return not info.num_pending and not info.num_ack_pending


@dataclass(slots=True)
class _Mark:
    """One consumer's floor as last read, and who waits for more."""

    floor: int = 0
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    poller: asyncio.Task[None] | None = None


class IngestProgress:
    def __init__(self, js: JetStreamContext, settings: Settings) -> None:
        self._js = js
        self._settings = settings
        self._marks: dict[tuple[str, str], _Mark] = {}

    async def wait_for(self, tenant: str, seq: int, deadline: float) -> None:
        """Return once ingest is done with every message of `tenant` up to `seq`; raise
        TimeoutError at `deadline` (the event loop's clock) if it is not."""
        key = progress_consumer(self._settings, tenant)
        mark = self._marks.setdefault(key, _Mark())
        if seq <= mark.floor:
            return
        loop = asyncio.get_running_loop()
        reached: asyncio.Future[None] = loop.create_future()
        mark.waiters.append((seq, reached))
        if mark.poller is None:
            mark.poller = asyncio.create_task(self._poll(key, mark), name="one-bus-progress")
        try:
            async with asyncio.timeout_at(deadline):
                await reached
        finally:
            if not reached.done():
                reached.cancel()

    def floor(self, tenant: str) -> int:
        """The last ack floor read for `tenant`'s consumer (0: none read yet)."""
        mark = self._marks.get(progress_consumer(self._settings, tenant))
        return mark.floor if mark is not None else 0

    async def stop(self) -> None:
        for mark in self._marks.values():
            if mark.poller is not None:
                mark.poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mark.poller
        self._marks.clear()

    async def _poll(self, key: tuple[str, str], mark: _Mark) -> None:
        stream, durable = key
        try:
            while True:
                mark.waiters = [(s, f) for s, f in mark.waiters if not f.done()]
                if not mark.waiters:
                    return
                try:
                    info = await self._js.consumer_info(stream, durable)
                    floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
                    mark.floor = max(mark.floor, floor or 0)
                    shared = self._settings.ingest_layout == "shared"
                    behind = any(seq > mark.floor for seq, _ in mark.waiters)
                    if shared and behind and _idle(info):
                        # On the shared stream a lane's floor stops at its tenant's last
                        # message (a tenant's own stream has only the lane's). The
                        # stream's end first, then the lane again: still nothing pending
                        # means every message of the tenant up to that end is done.
                        last = (await self._js.stream_info(stream)).state.last_seq
                        if _idle(await self._js.consumer_info(stream, durable)):
                            mark.floor = max(mark.floor, last)
                except (NatsError, TimeoutError) as error:
                    # Not there yet, or NATS is reconnecting: the waiters' deadlines bound it.
                    log.debug("ingest progress of %s/%s unknown: %r", stream, durable, error)
                for seq, reached in mark.waiters:
                    if seq <= mark.floor and not reached.done():
                        reached.set_result(None)
                await asyncio.sleep(self._settings.after_poll_s)
        finally:
            mark.poller = None
