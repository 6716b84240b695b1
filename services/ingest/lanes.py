"""Ingest lanes: one durable pull consumer per tenant, the unit of fair ingest.

A lane is a tenant's durable consumer, shared by every ingest replica (they split its
work, never duplicate it): on the shared stream `ONE_INGEST` filtered to
`one.v1.<tenant>.>`, on the tenant's own stream `ONE_INGEST_<tenant>` (per-tenant
layout) over all of it. `lane_consumer` is the one place a lane's stream and durable
are named; whoever reads a lane (write outcomes, `tenant remove`) goes through it.

Lanes are found by a cheap server-side listing, once per `ingest_lane_discovery_s`
(`LaneDiscovery`): the tenants that have subjects in the shared stream, or the streams
named `ONE_INGEST_*`. An idle lane costs one long-poll pull request per
`ingest_lane_pull_expiry_s` and nothing in between: nats-server holds the request and
delivers each message the moment it is stored.

Pulls are plain NATS requests on one subscription per lane (not nats-py's `fetch`, whose
batch waits until the request expires when fewer messages than asked for are there):
each lane keeps one request outstanding while it has room, messages arrive as they are
stored, and `on_message` hands them to the fair queue.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError

from contracts.subjects import (
    ALL_SUBJECTS,
    ALL_TENANTS,
    is_tenant,
    js_api,
    tenant_ingest_stream,
    tenant_wildcard,
)
from services.security.roles import lane_consumer_name
from services.settings import Settings

log = logging.getLogger(__name__)

_STATUS = "Status"
_HEARTBEAT = "100"
_CONSUMER_DELETED = "Consumer Deleted"
# The request expired (408) or, asked not to wait, found nothing (404).
_REQUEST_ENDED = frozenset({"404", "408"})


def lane_consumer(settings: Settings, tenant: str) -> tuple[str, str]:
    """(stream, durable) of `tenant`'s lane in the deployment's ingest layout.

    Shared layout: the durable is named from the tenant (`one-bus-ingest_acme`) on the
    shared stream; a subject token that is no valid tenant (its messages are
    dead-lettered as `bad_subject`) gets a lane named from its hash. Per-tenant layout:
    every tenant stream's durable has the same name, which lets the ingest identity's
    permissions name it (a NATS permission cannot match part of a token).
    """
    if settings.ingest_layout == "per_tenant":
        return tenant_ingest_stream(settings.ingest_stream, tenant), settings.ingest_consumer
    if is_tenant(tenant):
        return settings.ingest_stream, lane_consumer_name(settings.ingest_consumer, tenant)
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:16]
    return settings.ingest_stream, f"{settings.ingest_consumer}~{digest}"


def lane_filter(settings: Settings, tenant: str) -> str:
    """What a lane takes: on the shared stream, the tenant's subjects; on the tenant's
    own stream, all of it. All of it is more than the tenant's ingest subjects: a
    JetStream delivery aimed at one of them (another tenant's consumer with that
    deliver subject) is stored there under its original subject, and must be taken
    (and dead-lettered) rather than left filling the tenant's backlog quota. Every such
    subject is under `one.v1.`, which keeps the filter in the API subject that the
    ingest identity's permissions check."""
    if settings.ingest_layout == "per_tenant":
        return ALL_SUBJECTS
    return tenant_wildcard(tenant)


def lane_config(settings: Settings, tenant: str, start_seq: int | None = None) -> ConsumerConfig:
    """A lane's consumer; `start_seq` when it takes over from the single consumer of
    earlier versions (`LaneDiscovery.migrate`)."""
    _, durable = lane_consumer(settings, tenant)
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        # The filter is in the API subject too, which the ingest identity's permissions
        # check (docs/security.md).
        filter_subject=lane_filter(settings, tenant),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL if start_seq is None else DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start_seq,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        # Never give up on a message: bad input is terminated explicitly, and anything
        # else is a transient failure worth retrying (with backoff) until it succeeds.
        max_deliver=-1,
        max_waiting=512,
    )


async def ensure_lane(
    js: JetStreamContext, settings: Settings, tenant: str, start_seq: int | None = None
) -> None:
    """The lane's durable, created unless it exists (then left as it is: another replica
    or an earlier run made it, and its position is what counts)."""
    stream, durable = lane_consumer(settings, tenant)
    try:
        await js.consumer_info(stream, durable)
        return
    except NotFoundError:
        pass
    try:
        await js.add_consumer(stream, lane_config(settings, tenant, start_seq))
    except BadRequestError:
        # Created meanwhile by another replica with another start: theirs stands.
        await js.consumer_info(stream, durable)


async def remove_lane(js: JetStreamContext, settings: Settings, tenant: str) -> bool:
    """Stop taking `tenant`'s input: delete its lane (and, on the shared stream, its
    messages there, or discovery would find the tenant again and a new lane would take
    them). Returns whether there was a lane. The per-tenant stream itself goes with
    `delete_tenant_stream`."""
    stream, durable = lane_consumer(settings, tenant)
    if settings.ingest_layout == "shared":
        with contextlib.suppress(NotFoundError):
            await js.purge_stream(stream, subject=lane_filter(settings, tenant))
    try:
        return await js.delete_consumer(stream, durable)
    except NotFoundError:
        return False


async def _api(nc: NatsClient, subject: str, body: dict[str, Any], timeout_s: float) -> Any:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=timeout_s)
    answer = json.loads(reply.data)
    error = answer.get("error")
    if error:
        if error.get("code") == 404:
            raise NotFoundError(description=error.get("description"))
        raise BadRequestError(
            code=error.get("code"),
            err_code=error.get("err_code"),
            description=error.get("description"),
        )
    return answer


async def _paged(
    nc: NatsClient,
    subject: str,
    body: dict[str, Any],
    items: Callable[[Any], int],
    timeout_s: float,
) -> None:
    """Every page of a paged JetStream API listing; `items` reads one page and says how
    many entries it held."""
    offset = 0
    while True:
        answer = await _api(nc, subject, {**body, "offset": offset}, timeout_s)
        count = items(answer)
        offset += count
        if count == 0 or offset >= int(answer.get("total", 0)):
            return


async def shared_stream_tenants(nc: NatsClient, settings: Settings) -> set[str]:
    """The subject tokens in tenant position of the shared stream's subjects (one request
    per 100,000 subjects): what has, or had, input there."""
    tenants: set[str] = set()

    def page(answer: Any) -> int:
        subjects: dict[str, int] = (answer.get("state") or {}).get("subjects") or {}
        tenants.update(subject.split(".")[2] for subject in subjects)
        return len(subjects)

    await _paged(
        nc,
        js_api("STREAM", "INFO", settings.ingest_stream),
        {"subjects_filter": tenant_wildcard(ALL_TENANTS)},
        page,
        settings.publish_ack_timeout_s,
    )
    return tenants


async def tenant_stream_tenants(nc: NatsClient, settings: Settings) -> set[str]:
    """The tenants with an ingest stream of their own (one request per 1,024 streams)."""
    prefix = tenant_ingest_stream(settings.ingest_stream, "")
    tenants: set[str] = set()

    def page(answer: Any) -> int:
        names: list[str] = answer.get("streams") or []
        tenants.update(
            name[len(prefix) :]
            for name in names
            if name.startswith(prefix) and is_tenant(name[len(prefix) :])
        )
        return len(names)

    await _paged(nc, js_api("STREAM", "NAMES"), {}, page, settings.publish_ack_timeout_s)
    return tenants


async def discover_tenants(nc: NatsClient, settings: Settings) -> set[str]:
    """The tenants that need a lane now; in the shared layout, none before the shared
    stream exists."""
    try:
        if settings.ingest_layout == "per_tenant":
            return await tenant_stream_tenants(nc, settings)
        return await shared_stream_tenants(nc, settings)
    except NotFoundError:
        return set()


async def legacy_ack_floor(js: JetStreamContext, settings: Settings) -> int | None:
    """The stream sequence up to which the single consumer of earlier versions
    (`ingest_consumer` over all of the shared stream) took everything, or None when
    there is none to take over from."""
    if settings.ingest_layout != "shared":
        return None
    try:
        info = await js.consumer_info(settings.ingest_stream, settings.ingest_consumer)
    except NotFoundError:
        return None
    return info.ack_floor.stream_seq if info.ack_floor is not None else 0


async def migrate_legacy_consumer(js: JetStreamContext, nc: NatsClient, settings: Settings) -> bool:
    """Move an upgraded deployment from the single consumer to lanes: every tenant with
    input in the stream gets a lane starting right after the old consumer's ack floor,
    then the old consumer is deleted. Nothing is lost (everything after the floor is
    taken again); what the old consumer acked out of order above its floor (at most the
    batches it had in hand) is taken again, as after a crash, which writes absorb. Safe
    to repeat after a crash halfway and from two replicas at once: the floor does not
    move while nobody consumes the old consumer. Returns whether there was one."""
    floor = await legacy_ack_floor(js, settings)
    if floor is None:
        return False
    tenants = await discover_tenants(nc, settings)
    for tenant in sorted(tenants):
        await ensure_lane(js, settings, tenant, start_seq=floor + 1)
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(settings.ingest_stream, settings.ingest_consumer)
    log.warning(
        "ingest moved from consumer %s to %d per-tenant lanes, resuming after stream seq %d",
        settings.ingest_consumer,
        len(tenants),
        floor,
    )
    return True


@dataclass(frozen=True, slots=True)
class PullPolicy:
    """How much a lane asks for: it keeps up to `high` messages delivered and not yet
    taken, asking again once at most `low` are left."""

    low: int
    high: int
    expiry_s: float


class Lane:
    """One tenant's consumer on this replica: one subscription, at most one pull request
    outstanding, each delivered message handed to `on_message`."""

    def __init__(
        self,
        nc: NatsClient,
        settings: Settings,
        tenant: str,
        policy: PullPolicy,
        on_message: Callable[["Lane", Msg], None],
        on_gone: Callable[["Lane"], None],
        queued: Callable[[str], int],
    ) -> None:
        self.tenant = tenant
        self.stream, self.durable = lane_consumer(settings, tenant)
        self._nc = nc
        self._policy = policy
        self._on_message = on_message
        self._on_gone = on_gone
        self._queued = queued
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._closing = False
        # The outstanding pull: its number (the last token of its reply subject), the
        # messages it may still deliver, and when it has surely expired.
        self._request = 0
        self._outstanding = 0
        self._expires_at = 0.0

    async def open(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._arrived)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(NatsError):
                await self._sub.unsubscribe()
            self._sub = None
        self._outstanding = 0

    def stop_asking(self) -> None:
        """Closing: no more pull requests (what is delivered meanwhile still arrives)."""
        self._closing = True

    async def want(self, queued: int) -> None:
        """Ask for more if fewer than `low` are queued and no request is out."""
        loop = asyncio.get_running_loop()
        if self._outstanding and loop.time() < self._expires_at:
            return
        if self._sub is None or self._closing or queued > self._policy.low:
            return
        batch = self._policy.high - queued
        self._request += 1
        self._outstanding = batch
        # Known expired a little after nats-server's expiry: a request lost with the
        # connection (reconnect) is replaced at the next discovery round.
        self._expires_at = loop.time() + self._policy.expiry_s + 1.0
        body = {"batch": batch, "expires": int(self._policy.expiry_s * 1e9)}
        try:
            await self._nc.publish(
                js_api("CONSUMER", "MSG", "NEXT", self.stream, self.durable),
                json.dumps(body).encode(),
                reply=f"{self._inbox}.{self._request}",
            )
        except NatsError as error:
            log.warning("lane %s: pull request failed, retrying: %r", self.tenant, error)
            self._outstanding = 0

    def forget_request(self) -> None:
        """The connection was lost: the request is gone with it."""
        self._outstanding = 0

    async def _arrived(self, msg: Msg) -> None:
        status = (msg.headers or {}).get(_STATUS)
        if status is None and msg.reply:
            # A stored message comes under its own subject, not the request's inbox: it
            # is counted against the request outstanding (one that ended early may still
            # deliver a little, which only makes the next request come sooner).
            if self._outstanding:
                self._outstanding -= 1
            self._on_message(self, msg)
            return
        # Statuses come on the request's inbox: only the current request's count.
        if status == _HEARTBEAT or msg.subject.rsplit(".", 1)[-1] != str(self._request):
            return
        # 404/408: the request ended (expired, or nothing more); 409: ended by the
        # server (too many waiting, leadership moved, consumer deleted).
        self._outstanding = 0
        description = (msg.headers or {}).get("Description", "")
        if _CONSUMER_DELETED.lower() in description.lower():
            self._on_gone(self)
            return
        # An idle lane renews its expired long poll at once: its next message is not
        # kept waiting. Ended otherwise (409), the next discovery round asks again, so a
        # server refusing requests is not asked in a tight loop.
        if status in _REQUEST_ENDED:
            await self.want(self._queued(self.tenant))


class LaneSet:
    """This replica's lanes, kept in step with the tenants discovered."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        settings: Settings,
        policy: PullPolicy,
        on_message: Callable[[Lane, Msg], None],
        on_dropped: Callable[[Lane], None],
        queued: Callable[[str], int],
    ) -> None:
        self._nc = nc
        self._js = js
        self._settings = settings
        self._policy = policy
        self._on_message = on_message
        self._on_dropped = on_dropped
        self._queued = queued
        self.lanes: dict[str, Lane] = {}
        self._gone: set[str] = set()

    async def refresh(self) -> None:
        """One discovery round: lanes for new tenants, none for removed ones."""
        tenants = await discover_tenants(self._nc, self._settings)
        # A lane whose consumer was deleted under it is opened afresh if its tenant is
        # still there (re-added), else dropped.
        for tenant in self._gone:
            if tenant in self.lanes:
                await self._drop(tenant)
        self._gone.clear()
        for tenant in set(self.lanes) - tenants:
            await self._drop(tenant)
        for tenant in sorted(tenants - set(self.lanes)):
            try:
                await ensure_lane(self._js, self._settings, tenant)
            except (NatsError, TimeoutError, BadRequestError) as error:
                log.warning("lane for tenant %r not opened, retrying: %r", tenant, error)
                continue
            lane = Lane(
                self._nc,
                self._settings,
                tenant,
                self._policy,
                self._on_message,
                self._gone_cb,
                self._queued,
            )
            await lane.open()
            self.lanes[tenant] = lane

    def _gone_cb(self, lane: Lane) -> None:
        self._gone.add(lane.tenant)

    async def _drop(self, tenant: str) -> None:
        lane = self.lanes.pop(tenant)
        await lane.close()
        self._on_dropped(lane)
        log.info("lane of tenant %r closed", tenant)

    def forget_requests(self) -> None:
        for lane in self.lanes.values():
            lane.forget_request()

    async def close(self) -> None:
        """Stop asking, take in what the server already sent, then unsubscribe: a
        message delivered to a closed subscription would wait out ack_wait."""
        for lane in self.lanes.values():
            lane.stop_asking()
        with contextlib.suppress(NatsError, TimeoutError):
            await self._nc.flush()
        for tenant in list(self.lanes):
            lane = self.lanes.pop(tenant)
            await lane.close()


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where ingest stands over all lanes (for operators, tests and benchmarks; one
    `CONSUMER.INFO` per lane, so not for a hot path)."""

    lanes: int
    # Tenants with input and no lane yet (ingest opens theirs at its next round).
    missing: int
    # The highest stream sequence any lane has delivered.
    delivered: int
    # Stored, not yet delivered; delivered, not yet acked: over all lanes.
    pending: int
    ack_pending: int
    # Shared layout: the stream sequence up to which every message is acked (or
    # dead-lettered). Per-tenant layout: the lowest of the lanes' own floors.
    ack_floor: int

    @property
    def drained(self) -> bool:
        return self.missing == 0 and self.pending == 0 and self.ack_pending == 0


async def ingest_progress(nc: NatsClient, settings: Settings) -> IngestProgress:
    """Every lane's consumer state, summed up."""
    js = nc.jetstream(timeout=settings.publish_ack_timeout_s)
    infos = []
    missing = 0
    for tenant in sorted(await discover_tenants(nc, settings)):
        try:
            infos.append(await js.consumer_info(*lane_consumer(settings, tenant)))
        except NotFoundError:
            missing += 1  # not opened yet: ingest's next discovery round
    delivered = max((info.delivered.stream_seq or 0 for info in infos), default=0)
    busy = [info for info in infos if info.num_pending or info.num_ack_pending]
    floors = [(info.ack_floor.stream_seq or 0) if info.ack_floor else 0 for info in busy]
    return IngestProgress(
        lanes=len(infos),
        missing=missing,
        delivered=delivered,
        pending=sum(info.num_pending or 0 for info in infos),
        ack_pending=sum(info.num_ack_pending or 0 for info in infos),
        # Each lane's messages up to its floor are done; an idle lane's are all done.
        ack_floor=min(floors, default=delivered),
    )
