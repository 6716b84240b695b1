"""Evaluating a group of watches of one query and pushing the new result to each watcher.

Separate because it owns what reaches `deliverTo` and the rule that makes it safe across
replicas: a push first writes `version + 1` and the result's digest to the watch's record
(a compare-and-set on its revision), then publishes. So versions only grow, whichever
replica pushes, and a replica that lost a watch (another claimed it) finds out at that
write and pushes nothing. A watch is pushed only when its result's digest differs from
the last one pushed; a result too large for the server's max payload ends the watch.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Final, Protocol

from nats.errors import Error as NatsError

from contracts.queries import Query
from contracts.watches import EndReason
from services.watch.bucket import BucketPort, Conflict, WatchRecord
from services.watch.changes import ChangeFollower
from services.watch.coalescer import Coalescer
from services.watch.evaluator import Evaluation
from services.watch.matcher import page_edge, result_keys
from services.watch.mirror import BucketMirror
from services.watch.registry import Registry, Watched

log = logging.getLogger(__name__)

# Room under the server's max payload for the push's envelope around the result.
_ENVELOPE_BYTES: Final = 256
# Compare-and-set attempts before a write gives up for now.
ATTEMPTS: Final = 5


class Publisher(Protocol):
    """The NATS client as far as pushing goes (a fake in unit tests)."""

    @property
    def max_payload(self) -> int: ...

    async def publish(self, subject: str, payload: bytes) -> None: ...


class Reader(Protocol):
    """The evaluator as far as re-evaluation goes (evaluator.py; a fake in unit tests)."""

    def slot(
        self, tenant: str, *, in_turn: bool = False
    ) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def read(self, tenant: str, name: str, request: Query) -> Evaluation: ...


def push_body(watch_id: str, version: int, encoded_result: bytes) -> bytes:
    head = json.dumps({"watchId": watch_id, "version": version})[:-1]
    return head.encode() + b', "result": ' + encoded_result + b"}"


def ended_body(watch_id: str, reason: EndReason) -> bytes:
    return json.dumps({"watchId": watch_id, "ended": True, "reason": reason}).encode()


def next_version(record: WatchRecord, replica_id: str, digest: str) -> WatchRecord | None:
    """The record after pushing a result of `digest`; None if the watch is no longer
    `replica_id`'s to push."""
    if record.owner != replica_id:
        return None
    return record.model_copy(update={"version": record.version + 1, "resultHash": digest})


class Pusher:
    def __init__(
        self,
        replica_id: str,
        client: Publisher,
        bucket: BucketPort,
        mirror: BucketMirror,
        registry: Registry,
        reader: Reader,
        follower: ChangeFollower,
        coalescer: Coalescer,
        *,
        forget: Callable[[str], None],
        pushed: Callable[[], None] = lambda: None,
    ) -> None:
        self._replica_id = replica_id
        self._client = client
        self._bucket = bucket
        self._mirror = mirror
        self._registry = registry
        self._reader = reader
        self._follower = follower
        self._coalescer = coalescer
        # Drops a watch this replica no longer serves (registry and dirty marks).
        self._forget = forget
        self._pushed = pushed
        self.pushes = 0

    async def refresh(self, group: list[Watched]) -> None:
        """Read the group's query once; push to each watch whose result changed."""
        first = group[0]
        try:
            # Changes are noted from the moment the read can start, not while it waits
            # its turn: one that lands before the read is in what the read sees.
            async with self._reader.slot(first.tenant, in_turn=True):
                with self._follower.noting(first.tenant) as noted:
                    evaluation = await self._reader.read(first.tenant, first.name, first.request)
        except Exception as error:
            # The store is slow or away: try again after a pause, as ingest does.
            log.warning("re-evaluating %s for %d watches failed: %r", first.name, len(group), error)
            self._coalescer.retry_later(group)
            return
        keys = result_keys(first.name, first.request, evaluation.result)
        edge = page_edge(first.name, first.request, evaluation.result)
        pushes = []
        for watched in group:
            if watched.watch_id not in self._registry:
                continue
            self._registry.set_result(watched, keys, edge)
            self._follower.recheck(watched, noted)
            if evaluation.digest != watched.result_hash:
                pushes.append(self.deliver(watched, evaluation))
        await asyncio.gather(*pushes)

    async def deliver(self, watched: Watched, evaluation: Evaluation) -> None:
        if len(evaluation.encoded) + _ENVELOPE_BYTES > self._client.max_payload:
            await self.end(watched.watch_id, watched.deliver_to, "result_too_large", None)
            return
        version = await self.commit(watched.watch_id, evaluation.digest)
        if version is None:
            return
        watched.version, watched.result_hash = version, evaluation.digest
        self.pushes += 1
        self._pushed()
        await self.publish(
            watched.deliver_to, push_body(watched.watch_id, version, evaluation.encoded)
        )

    async def commit(self, watch_id: str, digest: str) -> int | None:
        """Write the next version; None if the watch is gone or no longer ours."""
        current = self._mirror.get(watch_id)
        for _ in range(ATTEMPTS):
            if current is None:
                current = await self._bucket.get(watch_id)
                if current is None:
                    self._forget(watch_id)
                    return None
            record, revision = current
            pushed = next_version(record, self._replica_id, digest)
            if pushed is None:
                self._forget(watch_id)
                return None
            try:
                self._mirror.remember(watch_id, pushed, await self._bucket.update(pushed, revision))
            except Conflict:
                current = None  # renewed meanwhile: read again
                continue
            return pushed.version
        self._coalescer.mark(watch_id)  # kept losing: try again with the next flush
        return None

    async def end(
        self, watch_id: str, deliver_to: str, reason: EndReason, revision: int | None
    ) -> None:
        """Delete the watch (if still at `revision`, when given) and tell the watcher."""
        try:
            await self._bucket.delete(watch_id, revision)
        except Conflict:
            return  # renewed at the last moment: it lives on
        self._forget(watch_id)
        await self.publish(deliver_to, ended_body(watch_id, reason))

    async def publish(self, subject: str, body: bytes) -> None:
        try:
            await self._client.publish(subject, body)
        except NatsError as error:
            log.debug("could not push to %s: %r", subject, error)
