"""Fakes for the unit tests of the watch side's roles (no servers): a bucket with the
compare-and-set rules of a KV bucket, a publisher, a reader, and records."""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from contracts.queries import EventsList, Query
from services.watch.bucket import Conflict, WatchRecord
from services.watch.evaluator import Evaluation, query_key
from services.watch.registry import Watched


def record(watch_id: str = "w1", **fields: Any) -> WatchRecord:
    values: dict[str, Any] = {
        "watchId": watch_id,
        "tenant": "acme",
        "query": "events.list",
        "request": {"actorId": "u"},
        "deliverTo": f"_INBOX.c1.{watch_id}",
        "connection": "_INBOX.c1",
        "leaseS": 60.0,
        "expiresAtMs": 1_000_000,
        "version": 1,
        "resultHash": "first",
        "owner": "me",
    }
    return WatchRecord(**{**values, **fields})


def watched(watch_id: str = "w1", request: Query | None = None, **fields: Any) -> Watched:
    request = request or EventsList(actorId="u")
    key = query_key("acme", "events.list", request)
    return Watched(watch_id, "acme", "events.list", request, f"_INBOX.c1.{watch_id}", key, **fields)


def evaluation(result: Any) -> Evaluation:
    encoded = json.dumps(result).encode()
    return Evaluation(result, encoded, hashlib.sha256(encoded).hexdigest()[:32])


class FakeBucket:
    """Keys with revisions; `update` and `delete` at a stale revision raise `Conflict`,
    as the KV bucket does. `conflicts` makes that many next updates lose anyway (another
    replica wrote first)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[WatchRecord, int]] = {}
        self.revision = 0
        self.conflicts = 0
        self.heartbeats: list[str] = []
        self.forgotten: list[str] = []

    def put(self, stored: WatchRecord) -> int:
        self.revision += 1
        self.records[stored.watchId] = (stored, self.revision)
        return self.revision

    async def get(self, watch_id: str) -> tuple[WatchRecord, int] | None:
        return self.records.get(watch_id)

    async def create(self, stored: WatchRecord) -> int:
        if stored.watchId in self.records:
            raise Conflict()
        return self.put(stored)

    async def update(self, stored: WatchRecord, revision: int) -> int:
        current = self.records.get(stored.watchId)
        if self.conflicts > 0 or current is None or current[1] != revision:
            self.conflicts = max(0, self.conflicts - 1)
            raise Conflict()
        return self.put(stored)

    async def delete(self, watch_id: str, revision: int | None = None) -> None:
        current = self.records.get(watch_id)
        if revision is not None and (current is None or current[1] != revision):
            raise Conflict()
        self.records.pop(watch_id, None)

    async def heartbeat(self, replica_id: str) -> None:
        self.heartbeats.append(replica_id)

    async def forget_replica(self, replica_id: str) -> None:
        self.forgotten.append(replica_id)


class FakePublisher:
    def __init__(self, max_payload: int = 1024 * 1024) -> None:
        self._max_payload = max_payload
        self.published: list[tuple[str, dict[str, Any]]] = []

    @property
    def max_payload(self) -> int:
        return self._max_payload

    async def publish(self, subject: str, payload: bytes) -> None:
        self.published.append((subject, json.loads(payload)))


class FakeReader:
    """Answers every read with `result`, counting the reads; `fail` makes them raise, and
    `hold` (while cleared) keeps them waiting, as a slow store would."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.reads = 0
        self.fail = False
        self.hold = asyncio.Event()
        self.hold.set()

    @contextlib.asynccontextmanager
    async def slot(self, tenant: str, *, in_turn: bool = False) -> AsyncIterator[None]:
        yield

    async def evaluate(
        self, tenant: str, name: str, request: Query, *, in_turn: bool = False
    ) -> Evaluation:
        async with self.slot(tenant, in_turn=in_turn):
            return await self.read(tenant, name, request)

    async def read(self, tenant: str, name: str, request: Query) -> Evaluation:
        self.reads += 1
        await self.hold.wait()
        if self.fail:
            raise TimeoutError("the store is away")
        return evaluation(self.result)


class FakeChanges:
    """The changes stream as the follower subscribes to it: one subscription object,
    counting how often it was taken and given back."""

    def __init__(self) -> None:
        self.subscribed = 0
        self.unsubscribed = 0

    async def subscribe(self, _subject: str, **_options: Any) -> "FakeChanges":
        self.subscribed += 1
        return self

    async def unsubscribe(self) -> None:
        self.unsubscribed += 1
