"""A tenant's quotas, usage and lifecycle, as the platform owner runs them (`one-bus tenant`).

- **Quotas** (`apply_quotas`): written to the `ONE_TENANTS` bucket, which every service
  process follows (tenant_directory.py); in the per-tenant ingest layout also the limits
  of the tenant's own ingest stream, so nats-server refuses a publish over quota at once.
- **Usage** (`tenant_usage`): read on demand from JetStream and MongoDB, never kept as
  per-tenant metrics (Prometheus labels stay bounded; docs/tenancy.md).
- **Removal** (`remove_tenant`): the tenant's backlog stops being taken (its input not yet
  stored is dropped with its lane consumer or stream), its watches end at once, and no
  consumer or KV entry of it is left; `purge` also erases its records, its changes and
  dead letters. A tenant added again starts clean.
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import BucketNotFoundError, NotFoundError
from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.nats_headers import is_kv_deletion
from contracts.subjects import (
    TENANTS_BUCKET,
    is_tenant,
    kind_wildcard,
    kv_subject,
    tenant_prefix,
    tenant_wildcard,
)
from contracts.tenancy import TenantQuotas
from services.ingest.lanes import lane_consumer
from services.runtime.streams import declare_tenant_stream, delete_tenant_stream
from services.runtime.tenant_directory import (
    delete_quotas,
    put_quotas,
    read_quotas,
    tenants_bucket,
)
from services.settings import Settings
from services.store.port import TenantRecords
from services.watch.bucket import WATCH_PREFIX, WatchRecord
from services.watch.pusher import ended_body

log = logging.getLogger(__name__)

# How long reading a whole KV bucket (the watches) may take before it is a failure.
_READ_BUCKET_TIMEOUT_S: Final = 30.0
# nats-server lists at most this many consumers per request.
_CONSUMERS_PAGE: Final = 256

Document = dict[str, Any]


class TenantAdminError(Exception):
    """What the platform owner should read instead of a traceback."""


def ingest_stream_of(settings: Settings, tenant: str) -> str:
    """The stream holding `tenant`'s input (its lane's)."""
    return lane_consumer(settings, tenant)[0]


def _tenant_filter(tenant: str) -> str:
    return tenant_wildcard(tenant)


def _check(tenant: str) -> None:
    if not is_tenant(tenant):
        raise TenantAdminError(f"{tenant!r}: a tenant is one token of [A-Za-z0-9_-]{{1,64}}")


# --- quotas -------------------------------------------------------------------------


async def apply_quotas(
    js: JetStreamContext, settings: Settings, tenant: str, changes: TenantQuotas
) -> TenantQuotas:
    """Set the fields `changes` gives (the others stay as they were); in force at once.
    Returns the tenant's own quotas as now stored."""
    _check(tenant)
    kv = await tenants_bucket(js, settings.stream_replicas)
    own = await read_quotas(kv, tenant) or TenantQuotas()
    merged = own.model_copy(update=changes.model_dump(exclude_none=True))
    if settings.ingest_layout == "per_tenant":
        # The stream's limits first: a quota the server cannot apply is not recorded.
        await declare_tenant_stream(js, settings, tenant, merged)
    await put_quotas(kv, tenant, merged)
    return merged


async def registered_tenants(js: JetStreamContext) -> dict[str, TenantQuotas]:
    """Every tenant with an entry in the tenants bucket, and its own quotas."""
    found = {}
    for tenant, value in sorted((await bucket_entries(js, TENANTS_BUCKET)).items()):
        try:
            found[tenant] = TenantQuotas.model_validate_json(value)
        except ValidationError as error:
            log.warning("ignoring the quotas of tenant %r: %s", tenant, error)
    return found


# --- usage ---------------------------------------------------------------------------


class Backlog(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Input held for ingest and not yet taken (or taken and not yet acknowledged).
    messages: int
    # What the tenant's stream holds (per-tenant layout: what its byte quota counts);
    # None in the shared layout, where the stream's bytes are everybody's.
    bytes: int | None
    oldest_age_s: float | None
    # Which consumer's position it was measured from.
    measured_from: str


class QuotaUse(BaseModel):
    model_config = ConfigDict(frozen=True)

    used: int | None  # None: not observable from outside the service processes
    limit: int


class TenantUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    backlog: Backlog
    # Messages the tenant published per second, over the interval measured.
    input_rate_per_s: float
    records: dict[str, int]
    dead_letters: int
    changes: int
    watches: int
    consumers: int
    quotas: dict[str, QuotaUse]


async def _subject_count(js: JetStreamContext, stream: str, subjects: str) -> int:
    try:
        info = await js.stream_info(stream, subjects_filter=subjects)
    except NotFoundError:
        return 0
    return sum((info.state.subjects or {}).values())


async def _consumer(js: JetStreamContext, stream: str, names: Iterable[str]) -> ConsumerInfo | None:
    for name in names:
        try:
            info: ConsumerInfo = await js.consumer_info(stream, name)
        except NotFoundError:
            continue
        return info
    return None


async def _pending_after(js: JetStreamContext, stream: str, subjects: str, start: int) -> int:
    """How many messages on `subjects` the stream holds from sequence `start` on: the
    count of a short-lived filtered consumer, which the server computes from its index."""
    info = await js.add_consumer(
        stream,
        ConsumerConfig(
            filter_subject=subjects,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(1, start),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=10.0,
            mem_storage=True,
        ),
    )
    try:
        return int(info.num_pending or 0)
    finally:
        await js.delete_consumer(stream, info.name)


async def backlog(js: JetStreamContext, settings: Settings, tenant: str) -> Backlog:
    stream = ingest_stream_of(settings, tenant)
    subjects = _tenant_filter(tenant)
    try:
        stream_info = await js.stream_info(stream)
    except NotFoundError:
        return Backlog(messages=0, bytes=None, oldest_age_s=None, measured_from="no stream")
    held = stream_info.state.bytes if settings.ingest_layout == "per_tenant" else None
    _, lane = lane_consumer(settings, tenant)
    consumer = await _consumer(js, stream, (lane, settings.ingest_consumer))
    if consumer is None and settings.ingest_layout == "per_tenant":
        # The tenant's own stream: whatever consumer ingest took it with.
        consumer = next(iter(await _all_consumers(js, stream)), None)
    if consumer is None:
        start, source = 1, "no consumer yet (all of the stream)"
        messages = await _subject_count(js, stream, subjects)
    else:
        start = int(consumer.ack_floor.stream_seq if consumer.ack_floor else 0) + 1
        source = str(consumer.name)
        if consumer.name == lane or settings.ingest_layout == "per_tenant":
            messages = int((consumer.num_pending or 0) + (consumer.num_ack_pending or 0))
        else:
            # The shared consumer takes every tenant's input: the tenant's messages after
            # its acknowledged floor.
            messages = await _pending_after(js, stream, subjects, start)
    oldest: float | None = None
    if messages:
        try:
            first = await js.get_msg(stream, seq=start, subject=subjects, next=True)
        except NotFoundError:
            first = None
        if first is not None and first.time is not None:
            oldest = max(0.0, time.time() - first.time.timestamp())
    return Backlog(messages=messages, bytes=held, oldest_age_s=oldest, measured_from=source)


async def bucket_entries(js: JetStreamContext, bucket: str) -> dict[str, bytes]:
    """The current value of every key of a KV bucket, read in one pass through an ordered
    consumer (not one request per key); {} if there is no such bucket."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        return {}
    if (await kv.status()).values == 0:
        return {}
    prefix = kv_subject(bucket, "")
    found: dict[str, bytes] = {}
    loaded = asyncio.Event()

    async def arrived(msg: Msg) -> None:
        key = msg.subject[len(prefix) :]
        if is_kv_deletion(msg.headers):
            found.pop(key, None)
        else:
            found[key] = msg.data
        if msg.metadata.num_pending == 0:
            loaded.set()

    subscription = await js.subscribe(
        f"{prefix}>",
        cb=arrived,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )
    try:
        await asyncio.wait_for(loaded.wait(), _READ_BUCKET_TIMEOUT_S)
    except TimeoutError as error:
        raise TenantAdminError(f"could not read the {bucket} bucket") from error
    finally:
        await subscription.unsubscribe()
    return found


async def watch_records(js: JetStreamContext, bucket: str) -> dict[str, WatchRecord]:
    """Every watch in the watches bucket, by key (entries that are no watch are skipped)."""
    records = {}
    for key, value in (await bucket_entries(js, bucket)).items():
        if not key.startswith(WATCH_PREFIX):
            continue
        try:
            records[key] = WatchRecord.model_validate_json(value)
        except ValidationError as error:
            log.warning("ignoring %s of %s: %s", key, bucket, error)
    return records


def _is_tenants(consumer: ConsumerInfo, tenant: str, lane: str) -> bool:
    if consumer.name == lane:
        return True
    config = consumer.config
    filters = list(config.filter_subjects or []) or (
        [config.filter_subject] if config.filter_subject else []
    )
    own = tenant_prefix(tenant)
    return bool(filters) and all(subject.startswith(own) for subject in filters)


async def _all_consumers(js: JetStreamContext, stream: str) -> list[ConsumerInfo]:
    consumers: list[ConsumerInfo] = []
    while True:
        try:
            page = await js.consumers_info(stream, offset=len(consumers) or None)
        except NotFoundError:
            return consumers
        consumers.extend(page)
        if len(page) < _CONSUMERS_PAGE:
            return consumers


async def tenant_consumers(
    js: JetStreamContext, settings: Settings, tenant: str
) -> list[tuple[str, str]]:
    """(stream, consumer) of every consumer that reads this tenant's subjects only."""
    _, lane = lane_consumer(settings, tenant)
    streams = dict.fromkeys(
        (ingest_stream_of(settings, tenant), settings.changes_stream, settings.dlq_stream)
    )
    found = []
    for stream in streams:
        for consumer in await _all_consumers(js, stream):
            if _is_tenants(consumer, tenant, lane):
                found.append((stream, str(consumer.name)))
    return found


async def _input_seen(js: JetStreamContext, settings: Settings, tenant: str) -> int:
    stream = ingest_stream_of(settings, tenant)
    if settings.ingest_layout == "per_tenant":
        try:
            return int((await js.stream_info(stream)).state.last_seq)
        except NotFoundError:
            return 0
    return await _subject_count(js, stream, _tenant_filter(tenant))


async def tenant_usage(
    js: JetStreamContext,
    settings: Settings,
    records: TenantRecords,
    tenants: list[str],
    interval_s: float = 1.0,
) -> list[TenantUsage]:
    """Usage of each tenant; the input rate is measured over `interval_s` (all at once)."""
    for tenant in tenants:
        _check(tenant)
    before = {tenant: await _input_seen(js, settings, tenant) for tenant in tenants}
    started = time.monotonic()
    kv = await tenants_bucket(js, settings.stream_replicas)
    watches = await watch_records(js, settings.watch_kv_bucket)
    usages = []
    for tenant in tenants:
        held = await backlog(js, settings, tenant)
        limits = ((await read_quotas(kv, tenant)) or TenantQuotas()).over(settings.tenant_defaults)
        watch_count = sum(1 for record in watches.values() if record.tenant == tenant)
        consumers = [
            pair
            for pair in await tenant_consumers(js, settings, tenant)
            if pair[0] != ingest_stream_of(settings, tenant)
        ]
        usages.append(
            {
                "tenant": tenant,
                "backlog": held,
                "records": await records.count(tenant),
                "dead_letters": await _subject_count(
                    js, settings.dlq_stream, kind_wildcard(tenant, "dlq")
                ),
                "changes": await _subject_count(
                    js, settings.changes_stream, kind_wildcard(tenant, "changes")
                ),
                "watches": watch_count,
                "consumers": len(consumers),
                "quotas": {
                    "max_backlog_msgs": QuotaUse(
                        used=held.messages, limit=_limit(limits.max_backlog_msgs)
                    ),
                    "max_backlog_bytes": QuotaUse(
                        used=held.bytes, limit=_limit(limits.max_backlog_bytes)
                    ),
                    "max_concurrent_queries": QuotaUse(
                        used=None, limit=_limit(limits.max_concurrent_queries)
                    ),
                    "max_watches": QuotaUse(used=watch_count, limit=_limit(limits.max_watches)),
                    "max_consumers": QuotaUse(
                        used=len(consumers), limit=_limit(limits.max_consumers)
                    ),
                },
            }
        )
    await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    elapsed = max(time.monotonic() - started, 1e-3)
    result = []
    for usage in usages:
        tenant = str(usage["tenant"])
        seen = await _input_seen(js, settings, tenant)
        rate = max(0, seen - before[tenant]) / elapsed
        result.append(TenantUsage.model_validate({**usage, "input_rate_per_s": round(rate, 1)}))
    return result


def _limit(value: int | None) -> int:
    assert value is not None, "quotas over the defaults are all set"
    return value


# --- removal -------------------------------------------------------------------------


class Removal(BaseModel):
    """What `remove_tenant` did, counted (shown to the platform owner)."""

    tenant: str
    # Input not yet stored, dropped; `input_erased` counts all of its input in the stream
    # (what was stored from it stays, unless purged).
    backlog_dropped: int = 0
    ingest_stream_deleted: bool = False
    consumers_deleted: int = 0
    watches_ended: int = 0
    quotas_deleted: bool = False
    # Purge only:
    records_erased: dict[str, int] = {}
    changes_erased: int = 0
    dead_letters_erased: int = 0
    input_erased: int = 0


async def end_watches(
    client: NatsClient, js: JetStreamContext, settings: Settings, tenant: str
) -> int:
    """Delete the tenant's watch records (the watch service stops pushing as soon as its
    mirror sees the deletion), then send each watch its last push, so that a watcher
    learns at once that it ended rather than at its lease's end."""
    records = await watch_records(js, settings.watch_kv_bucket)
    mine = {key: record for key, record in records.items() if record.tenant == tenant}
    if not mine:
        return 0
    kv = await js.key_value(settings.watch_kv_bucket)
    for key in mine:
        await kv.purge(key)
    for record in mine.values():
        await client.publish(record.deliverTo, ended_body(record.watchId, "stopped"))
    await client.flush()
    return len(mine)


async def remove_tenant(
    client: NatsClient,
    js: JetStreamContext,
    settings: Settings,
    tenant: str,
    *,
    records: TenantRecords | None = None,
) -> Removal:
    """Stop everything of `tenant` on the bus; with `records`, also erase its data (the
    purge). Identities are the caller's (the secure layout's) to revoke first."""
    _check(tenant)
    removal = Removal(tenant=tenant)
    stream = ingest_stream_of(settings, tenant)
    subjects = _tenant_filter(tenant)
    removal.backlog_dropped = (await backlog(js, settings, tenant)).messages
    if settings.ingest_layout == "per_tenant":
        removal.consumers_deleted = await _delete_consumers(js, settings, tenant)
        removal.input_erased = await _subject_count(js, stream, subjects)
        removal.ingest_stream_deleted = await delete_tenant_stream(js, settings, tenant)
    else:
        # The input not yet stored goes: nothing may take it once the tenant is gone (a
        # lane would be made for it again, and the shared consumer would store it). Its
        # input already stored goes with it: the stream cannot purge one range of one
        # tenant's subjects.
        removal.input_erased = await _subject_count(js, stream, subjects)
        if removal.input_erased:
            await js.purge_stream(stream, subject=subjects)
        # Lanes are made from the subjects in the stream, so after the purge no new one
        # is; but a discovery round that read the subjects before it may still make one:
        # a second sweep after such a round takes that one too.
        removal.consumers_deleted = await _delete_consumers(js, settings, tenant)
        await asyncio.sleep(2 * settings.ingest_lane_discovery_s)
        removal.consumers_deleted += await _delete_consumers(js, settings, tenant)
    removal.watches_ended = await end_watches(client, js, settings, tenant)
    try:
        kv = await tenants_bucket(js, declare=False)
    except BucketNotFoundError:
        pass
    else:
        removal.quotas_deleted = await read_quotas(kv, tenant) is not None
        await delete_quotas(kv, tenant)
    if records is not None:
        await _purge(js, settings, tenant, records, removal)
    return removal


async def _delete_consumers(js: JetStreamContext, settings: Settings, tenant: str) -> int:
    deleted = 0
    for consumer_stream, name in await tenant_consumers(js, settings, tenant):
        try:
            await js.delete_consumer(consumer_stream, name)
        except NotFoundError:
            continue
        deleted += 1
    return deleted


async def _purge(
    js: JetStreamContext,
    settings: Settings,
    tenant: str,
    records: TenantRecords,
    removal: Removal,
) -> None:
    removal.records_erased.update(await records.erase(tenant))
    for stream, subjects, field in (
        (settings.changes_stream, kind_wildcard(tenant, "changes"), "changes_erased"),
        (settings.dlq_stream, kind_wildcard(tenant, "dlq"), "dead_letters_erased"),
    ):
        count = await _subject_count(js, stream, subjects)
        if count:
            await js.purge_stream(stream, subject=subjects)
        setattr(removal, field, count)
