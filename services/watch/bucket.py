"""Watch definitions and replica heartbeats in a JetStream KV bucket, where every replica
finds them: a watch outlives the replica that accepted it.

Keys: `w.<watchId>` holds a `WatchRecord` (the request, where to push, the lease, the last
pushed version and result digest, the owning replica); `r.<replicaId>` a replica's
heartbeat. Every write of a watch is a compare-and-set on the key's revision, so two
replicas can never both push a version: the one whose write lost reads again.

Each replica follows the whole bucket with an ordered consumer (last value per key, then
every update) and keeps a mirror: enough to count watches per tenant and connection and
to notice a replica that went silent.

Nothing but the service should ever write here (the reply guard and the responder's
permissions keep answers out), but a bucket must not be able to take live queries down
if something does: an entry that is not a valid record is treated as absent (its watch,
if any, ends) and never retried; such entries are logged at the 1st, 10th, 100th, ...
one, not one line each; and the bucket has limits (`BucketLimits`) so that nothing
accumulates without bound: one value per key, a maximum age far above any lease (every
live key is rewritten at least once a lease: renewals, heartbeats), a total size and a
value size. A bucket declared before the limits existed gets them when the service
opens it.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, DiscardPolicy, KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.clock import now_ms
from contracts.nats_headers import is_kv_deletion
from contracts.subjects import kv_stream, kv_subject
from services.security.reply_guard import may_reply

log = logging.getLogger(__name__)

WATCH_PREFIX: Final = "w."
REPLICA_PREFIX: Final = "r."
_WRONG_LAST_SEQUENCE: Final = (10071, 10164)

Conflict = KeyWrongLastSequenceError
"""Raised by `update`/`delete` when the key changed since the revision given."""


class WatchRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    watchId: str
    tenant: str
    query: str
    # The plain query's request (validated), as JSON values.
    request: dict[str, Any]
    deliverTo: str
    connection: str
    leaseS: float
    expiresAtMs: int
    # The last version pushed (1: the reply) and the digest of that result.
    version: int
    resultHash: str | None
    owner: str


class Heartbeat(BaseModel):
    model_config = ConfigDict(frozen=True)

    atMs: int


WatchUpdate = Callable[[str, WatchRecord | None, int], None]
ReplicaUpdate = Callable[[str, int | None], None]


@dataclass(frozen=True, slots=True)
class BucketLimits:
    max_bytes: int
    max_age_s: float
    max_value_bytes: int


class BadEntries:
    """Entries of the bucket that are not what the service writes: counted, and logged
    at the 1st, 10th, 100th, ... so a flood of junk costs a few log lines."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self.count = 0
        self._next_log = 1

    def note(self, key: str, error: Exception) -> None:
        self.count += 1
        if self.count >= self._next_log:
            self._next_log *= 10
            log.warning(
                "%d invalid entries in KV bucket %s so far (treated as absent), latest %r: %s",
                self.count,
                self._bucket,
                key[:80],
                str(error).splitlines()[0][:200],
            )


class BucketPort(Protocol):
    """What the roles of the watch side read and write in the bucket: `WatchBucket`, or a
    fake in unit tests."""

    async def get(self, watch_id: str) -> tuple[WatchRecord, int] | None: ...

    async def create(self, record: WatchRecord) -> int: ...

    async def update(self, record: WatchRecord, revision: int) -> int: ...

    async def delete(self, watch_id: str, revision: int | None = None) -> None: ...

    async def heartbeat(self, replica_id: str) -> None: ...

    async def forget_replica(self, replica_id: str) -> None: ...


class WatchBucket:
    def __init__(
        self,
        js: JetStreamContext,
        bucket: str,
        replicas: int,
        declare: bool,
        limits: BucketLimits,
        *,
        plain_inbox: bool,
    ) -> None:
        self._js = js
        self._bucket = bucket
        self._replicas = replicas
        self._declare = declare
        self._limits = limits
        # A record read back must push where the reply rule lets it, as when it was made.
        self._plain_inbox = plain_inbox
        self.bad = BadEntries(bucket)
        self._kv: KeyValue | None = None
        self._subscription: JetStreamContext.PushSubscription | None = None
        # Set once the mirror holds every key the bucket had when `follow` began.
        self.loaded = asyncio.Event()

    @property
    def opened(self) -> bool:
        return self._kv is not None

    @property
    def kv(self) -> KeyValue:
        assert self._kv is not None, "open() the bucket first"
        return self._kv

    async def open(self) -> None:
        try:
            self._kv = await self._js.key_value(self._bucket)
        except BucketNotFoundError:
            if not self._declare:
                raise
            self._kv = await self._js.create_key_value(
                KeyValueConfig(
                    bucket=self._bucket,
                    description="ONE Bus live queries: watch definitions and replica heartbeats",
                    history=1,
                    storage=StorageType.FILE,
                    replicas=self._replicas,
                    ttl=self._limits.max_age_s,
                    max_bytes=self._limits.max_bytes,
                    max_value_size=self._limits.max_value_bytes,
                )
            )
            return
        if self._declare:
            await self._apply_limits()

    async def _apply_limits(self) -> None:
        """Give a bucket declared before the limits (or with others) the current ones."""
        stream = kv_stream(self._bucket)
        config = (await self._js.stream_info(stream)).config
        wanted = {
            "max_msgs_per_subject": 1,
            "max_age": self._limits.max_age_s,
            "max_bytes": self._limits.max_bytes,
            "max_msg_size": self._limits.max_value_bytes,
        }
        # Ages come back from the server in nanoseconds, as floats of seconds here.
        if all(abs((getattr(config, f) or 0) - value) < 1e-3 for f, value in wanted.items()):
            return
        for field, value in wanted.items():
            setattr(config, field, value)
        # A full bucket refuses new watches rather than dropping live ones.
        config.discard = DiscardPolicy.NEW
        await self._js.update_stream(config)
        log.info("KV bucket %s now has its limits: %s", self._bucket, wanted)

    async def follow(self, on_watch: WatchUpdate, on_replica: ReplicaUpdate) -> None:
        """Call back with the last value of every key, then with every change."""
        prefix = kv_subject(self._bucket, "")

        async def arrived(msg: Msg) -> None:
            if msg.metadata.num_pending == 0:
                self.loaded.set()
            key = msg.subject[len(prefix) :]
            deleted = is_kv_deletion(msg.headers)
            revision = msg.metadata.sequence.stream
            if key.startswith(WATCH_PREFIX):
                record = None if deleted else self._record(key, msg.data)
                # Invalid: as if deleted, so a watch whose record was spoilt ends once.
                on_watch(key[len(WATCH_PREFIX) :], record, revision)
            elif key.startswith(REPLICA_PREFIX):
                beat = None
                if not deleted:
                    try:
                        beat = Heartbeat.model_validate_json(msg.data).atMs
                    except ValidationError as error:
                        self.bad.note(key, error)
                on_replica(key[len(REPLICA_PREFIX) :], beat)
            else:
                self.bad.note(key, ValueError("not a key the service writes"))

        self._subscription = await self._js.subscribe(
            f"{prefix}>",
            cb=arrived,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        )

    async def close(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()

    async def create(self, record: WatchRecord) -> int:
        return int(await self.kv.create(WATCH_PREFIX + record.watchId, _encode(record)))

    async def get(self, watch_id: str) -> tuple[WatchRecord, int] | None:
        try:
            entry = await self.kv.get(WATCH_PREFIX + watch_id)
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        record = self._record(entry.key, entry.value)
        return None if record is None else (record, entry.revision)

    def _record(self, key: str, data: bytes) -> WatchRecord | None:
        """The record in an entry; None (noted) if it is not one the service wrote."""
        try:
            record = WatchRecord.model_validate_json(data)
        except ValidationError as error:
            self.bad.note(key, error)
            return None
        if WATCH_PREFIX + record.watchId != key:
            self.bad.note(key, ValueError(f"holds the record of watch {record.watchId[:40]!r}"))
            return None
        if not may_reply(record.tenant, record.deliverTo, plain_inbox=self._plain_inbox):
            self.bad.note(key, ValueError("pushes outside its tenant's inboxes"))
            return None
        return record

    async def update(self, record: WatchRecord, revision: int) -> int:
        """Write `record` if the key is still at `revision`; raises `Conflict` if not."""
        key = WATCH_PREFIX + record.watchId
        return int(await self.kv.update(key, _encode(record), last=revision))

    async def delete(self, watch_id: str, revision: int | None = None) -> None:
        """Delete the watch (if still at `revision`, when given; raises `Conflict` if not)."""
        try:
            await self.kv.delete(WATCH_PREFIX + watch_id, last=revision)
        except APIError as error:
            if error.err_code in _WRONG_LAST_SEQUENCE:
                raise Conflict(description=error.description) from error
            raise

    async def heartbeat(self, replica_id: str) -> None:
        beat = Heartbeat(atMs=now_ms()).model_dump_json().encode()
        await self.kv.put(REPLICA_PREFIX + replica_id, beat)

    async def forget_replica(self, replica_id: str) -> None:
        await self.kv.delete(REPLICA_PREFIX + replica_id)


def _encode(record: WatchRecord) -> bytes:
    return json.dumps(record.model_dump(mode="json"), separators=(",", ":")).encode()
