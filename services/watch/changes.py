"""Following `ONE_CHANGES` and matching each change against the watches served here.

Separate because matching is the hot path (every change of every tenant comes through it)
and has a rule of its own: nothing slips between a read and its index. While a watch's
query is read the registry still holds its previous result, so the changes of its tenant
that land meanwhile are noted (`noting`) and checked again against the new result once it
is in (`recheck`). A change marks dirty only the watches the registry finds for it
(registry.py, matcher.py): an unrelated change costs a few lookups and no store read.

The consumer is ordered and takes new changes only: a replica taking a watch over reads
it afresh anyway.
"""

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from contracts.subjects import CHANGES_WILDCARD
from services.watch.registry import Registry, Watched

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
        self._subscription: JetStreamContext.PushSubscription | None = None
        self.changes_seen = 0

    async def follow(self, js: JetStreamContext, stream: str) -> None:
        self._subscription = await js.subscribe(
            CHANGES_WILDCARD,
            stream=stream,
            cb=self.on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )

    async def close(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()

    async def on_message(self, msg: Msg) -> None:
        self.changes_seen += 1
        self._seen()
        tokens = msg.subject.split(".")
        if len(tokens) < 5:
            return
        if not self._registry and not self._reading:
            # No watch here and no read in flight: nothing a change could mark. A replica
            # without watches then pays the delivery alone, not the decoding.
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
