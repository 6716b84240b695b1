"""Following `ONE_CHANGES` and matching each change against the watches served here.

Separate because matching is the hot path (every change of every tenant comes through it)
and has a rule of its own: nothing slips between a read and its index. While a watch's
query is read the registry still holds its previous result, so the changes of its tenant
that land meanwhile are noted (`noting`) and checked again against the new result once it
is in (`recheck`). A change marks dirty only the watches the registry finds for it
(registry.py, matcher.py): an unrelated change costs a few lookups and no store read.

The consumer is ordered and takes new changes only, and exists only while this replica
holds a watch or a read is in flight: a replica without watches receives no changes at
all (nats-py reading and dispatching every change was most of its CPU while ingest
ran). `follow` creates it before anything that depends on the changes starts (a watch's
first read, a claimed watch's read), so no change that matters is older than it; `run`
drops it at the first tick that finds nothing needing it, and if it finds watches held
while not following (a `follow` that failed), follows and has them all read again.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import Error as JetStreamError

from contracts.subjects import CHANGES_WILDCARD
from services.watch.registry import Registry, Watched

log = logging.getLogger(__name__)

Noted = list[tuple[str, dict[str, Any]]]


class ChangeFollower:
    def __init__(
        self, registry: Registry, mark: Callable[[str], None], seen: Callable[[], None]
    ) -> None:
        self._registry = registry
        self._mark = mark
        self._seen = seen
        # Reads in flight → (tenant, the changes of that tenant matched meanwhile).
        self._reading: dict[int, tuple[str, Noted]] = {}
        self._next_read = 0
        self._js: JetStreamContext | None = None
        self._stream = ""
        self._subscription: JetStreamContext.PushSubscription | None = None
        # Creating and dropping the consumer both wait on the server: one at a time, so a
        # `follow` never returns on a consumer being dropped.
        self._changing = asyncio.Lock()
        self.changes_seen = 0

    def open(self, js: JetStreamContext, stream: str) -> None:
        """Where the changes are; nothing is followed until `follow`."""
        self._js, self._stream = js, stream

    @property
    def following(self) -> bool:
        return self._subscription is not None

    def _needed(self) -> bool:
        return bool(self._registry or self._reading)

    async def follow(self) -> None:
        """Changes stored from now on are delivered; raises if the consumer cannot be
        created."""
        if self._subscription is not None and not self._changing.locked():
            return
        async with self._changing:
            if self._subscription is None:
                assert self._js is not None, "open() first"
                self._subscription = await self._js.subscribe(
                    CHANGES_WILDCARD,
                    stream=self._stream,
                    cb=self.on_message,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.NEW,
                )

    async def run(self, stopping: Callable[[], bool], every_s: float) -> None:
        """Follow exactly while needed, looking every `every_s`."""
        while not stopping():
            await asyncio.sleep(every_s)
            try:
                await self.keep_up()
            except (NatsError, JetStreamError) as error:
                log.warning("could not follow the changes: %r", error)
            except Exception:
                # The loop that keeps the changes coming must outlive any one failure.
                log.exception("following the changes failed")

    async def keep_up(self) -> None:
        """Drop the consumer if nothing needs it; follow if watches are held without it
        (a `follow` failed), and read them all again: changes may have been missed."""
        if self._subscription is None and self._registry:
            await self.follow()
            for watch_id in list(self._registry.watches):
                self._mark(watch_id)
        elif self._subscription is not None and not self._needed():
            async with self._changing:
                if self._subscription is not None and not self._needed():
                    await self._drop()

    async def close(self) -> None:
        async with self._changing:
            await self._drop()

    async def _drop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(NatsError, JetStreamError):
                await subscription.unsubscribe()

    async def on_message(self, msg: Msg) -> None:
        self.changes_seen += 1
        self._seen()
        tokens = msg.subject.split(".")
        if len(tokens) < 5:
            return
        if not self._registry and not self._reading:
            # No watch here and no read in flight: nothing a change could mark (changes
            # still arrive until the next `keep_up` drops the consumer).
            return
        try:
            change = json.loads(msg.data)
            collection, record = change["collection"], change["record"]
        except (ValueError, KeyError, TypeError):
            return
        if not isinstance(collection, str) or not isinstance(record, dict):
            return
        self.changed(tokens[2], collection, record)

    def changed(self, tenant: str, collection: str, record: dict[str, Any]) -> None:
        """A change of `record` in `collection` of `tenant`: the watches it may alter are
        dirty, and the reads of that tenant in flight note it."""
        for reading_tenant, noted in self._reading.values():
            if reading_tenant == tenant:
                noted.append((collection, record))
        for watch_id in self._registry.candidates(tenant, collection, record):
            self._mark(watch_id)

    @contextlib.contextmanager
    def noting(self, tenant: str) -> Iterator[Noted]:
        """The changes of `tenant` that arrive while the block runs (a read)."""
        self._next_read += 1
        token, noted = self._next_read, Noted()
        self._reading[token] = (tenant, noted)
        try:
            yield noted
        finally:
            del self._reading[token]

    def recheck(self, watched: Watched, noted: Noted) -> None:
        """After a read: a change that landed during it and may alter the new result makes
        the watch dirty again."""
        if any(self._registry.affects(watched, collection, record) for collection, record in noted):
            self._mark(watched.watch_id)
