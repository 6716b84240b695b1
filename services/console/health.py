"""Health and load as the bus exposes them: JetStream stream and consumer info, the query
service's `$SRV.STATS`, the tenant's dead letters, and the watch bucket.

Each probe asks with the console's identity; what it may not see is reported as refused
(a tenant's identity may not read stream info; the operator's may). A sampler keeps a
short history in memory, so rates and latencies can be drawn as small plots.
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from nats.js.errors import NotFoundError as JsNotFoundError
from nats.micro.service import ServiceStats

from contracts.subjects import TENANTS_BUCKET, kv_stream, kv_subject, srv_subject
from contracts.tenancy import TenantQuotas
from services.console.bus import BusRefusedError, BusUnavailableError, ConsoleBus
from services.ingest.lanes import lane_consumer
from services.query.micro import SERVICE_NAME
from services.watch.bucket import WATCH_PREFIX

PROBE_TIMEOUT_S: Final = 2.0
# Every replica of the query service answers `$SRV.STATS`; replies are gathered this long.
STATS_GATHER_S: Final = 0.5
HISTORY: Final = 120
# The sampler asks only while someone looks: each probe an identity may not make is a
# permissions violation in the server's log.
WANTED_FOR_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class Probe:
    """One figure, or why the console cannot show it."""

    value: float | None
    detail: str = ""
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    requests: int
    errors: int
    average_ms: float


@dataclass(frozen=True, slots=True)
class Quotas:
    """The tenant's quotas in force: its own (`ONE_TENANTS`) over the deployment's."""

    values: TenantQuotas | None
    own: frozenset[str] = frozenset()
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    ingest_pending: Probe
    ingest_stored: Probe
    tenant_in_stream: Probe
    watches: Probe
    query_requests: Probe
    query_time_ns: Probe
    endpoints: list[Endpoint]
    replicas: int
    quotas: Quotas


@dataclass
class History:
    """Recent snapshots, oldest first; the plots are differences between neighbours."""

    samples: deque[Snapshot] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def series(self, pick: Callable[[Snapshot], float | None]) -> list[tuple[float, float]]:
        return [(s.at, v) for s in self.samples if (v := pick(s)) is not None]

    def rate(self, pick: Callable[[Snapshot], float | None]) -> list[tuple[float, float]]:
        """Per-second increase between consecutive samples (a counter's rate)."""
        points = self.series(pick)
        return [
            (t2, max(0.0, (v2 - v1) / (t2 - t1)))
            for (t1, v1), (t2, v2) in itertools.pairwise(points)
            if t2 > t1
        ]

    def latency_ms(self) -> list[tuple[float, float]]:
        """Mean query time per interval: processing time added / requests added."""
        out: list[tuple[float, float]] = []
        for a, b in itertools.pairwise(self.samples):
            n1, n2 = a.query_requests.value, b.query_requests.value
            t1, t2 = a.query_time_ns.value, b.query_time_ns.value
            if n1 is None or n2 is None or t1 is None or t2 is None:
                continue
            if n2 > n1:
                out.append((b.at, (t2 - t1) / (n2 - n1) / 1e6))
        return out


async def _probe(what: str, ask: Callable[[], Awaitable[Probe]]) -> Probe:
    try:
        return await asyncio.wait_for(ask(), PROBE_TIMEOUT_S + 1)
    except BusRefusedError as error:
        return Probe(None, refused=str(error))
    except (BusUnavailableError, TimeoutError) as error:
        return Probe(None, refused=f"{what}: {error or 'no answer'}")


class Health:
    """The probes, and the sampler that keeps their history."""

    def __init__(self, bus: ConsoleBus) -> None:
        self.bus = bus
        self.history = History()
        self._js = bus.client.nats.jetstream(timeout=PROBE_TIMEOUT_S)
        self._wanted_until = 0.0

    def wanted(self) -> None:
        """Someone looked at the health page: keep sampling for a while."""
        self._wanted_until = time.monotonic() + WANTED_FOR_S

    @property
    def ingest_stream(self) -> str:
        """The stream the tenant's input lands in (its lane's)."""
        return lane_consumer(self.bus.settings, self.bus.identity.tenant)[0]

    async def snapshot(self) -> Snapshot:
        figures, stats, quotas = await asyncio.gather(
            asyncio.gather(
                _probe("ingest consumer", self._pending),
                _probe("ingest stream", self._stored),
                _probe("tenant's input", self._tenant_input),
                _probe("watches", self._watches),
            ),
            self._query_stats(),
            self._quotas(),
        )
        pending, stored, tenant, watches = figures
        endpoints, replicas, requests, time_ns = stats
        snap = Snapshot(
            time.time(),
            pending,
            stored,
            tenant,
            watches,
            requests,
            time_ns,
            endpoints,
            replicas,
            quotas,
        )
        self.history.samples.append(snap)
        return snap

    async def _pending(self) -> Probe:
        settings = self.bus.settings
        stream, lane = lane_consumer(settings, self.bus.identity.tenant)
        with self.bus.guard("ingest consumer info"):
            info = await self._js.consumer_info(stream, lane)
        pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
        return Probe(float(pending), f"{info.num_ack_pending or 0} in hand, the tenant's lane")

    async def _stored(self) -> Probe:
        with self.bus.guard("ingest stream info"):
            info = await self._js.stream_info(self.ingest_stream)
        return Probe(
            float(info.state.last_seq), f"{info.state.messages} kept in {info.config.name}"
        )

    async def _tenant_input(self) -> Probe:
        tenant = self.bus.identity.tenant
        with self.bus.guard("the tenant's input in the ingest stream"):
            info = await self._js.stream_info(
                self.ingest_stream, subjects_filter=self.bus.client.subject(">")
            )
        count = sum((info.state.subjects or {}).values())
        return Probe(float(count), f"messages of {tenant} kept in the stream")

    async def _watches(self) -> Probe:
        bucket = kv_stream(self.bus.settings.watch_kv_bucket)
        with self.bus.guard("watch bucket info"):
            info = await self._js.stream_info(
                bucket,
                subjects_filter=kv_subject(self.bus.settings.watch_kv_bucket, f"{WATCH_PREFIX}>"),
            )
        return Probe(float(len(info.state.subjects or {})), "live queries, all tenants")

    async def _quotas(self) -> Quotas:
        defaults = self.bus.settings.tenant_defaults
        try:
            with self.bus.guard("the tenant's quotas"):
                try:
                    kv = await self._js.key_value(TENANTS_BUCKET)
                    entry = await kv.get(self.bus.identity.tenant)
                except JsNotFoundError:  # KeyNotFound, KeyDeleted, BucketNotFound
                    # No bucket (no tenants registered) or no key: the deployment's.
                    return Quotas(defaults)
        except (BusRefusedError, BusUnavailableError) as error:
            return Quotas(None, refused=str(error))
        try:
            own = TenantQuotas.model_validate_json(entry.value or b"{}")
        except ValueError:
            return Quotas(defaults, refused="the tenant's stored quotas are not valid")
        return Quotas(own.over(defaults), frozenset(own.model_dump(exclude_none=True)))

    async def _query_stats(self) -> tuple[list[Endpoint], int, Probe, Probe]:
        nc = self.bus.client.nats
        inbox = nc.new_inbox()
        replies: list[ServiceStats] = []

        async def collect(msg: object) -> None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                replies.append(ServiceStats.from_dict(json.loads(getattr(msg, "data", b""))))

        before = self.bus.violation_count
        try:
            with self.bus.guard("query statistics ($SRV.STATS)"):
                subscription = await nc.subscribe(inbox, cb=collect)
                try:
                    await nc.publish(srv_subject("STATS", SERVICE_NAME), b"", reply=inbox)
                    await nc.flush(timeout=int(PROBE_TIMEOUT_S))
                    await asyncio.sleep(STATS_GATHER_S)
                finally:
                    await subscription.unsubscribe()
                if not replies and self.bus.violation_count > before:
                    raise BusRefusedError(f"query statistics: refused ({self.bus.last_violation})")
        except (BusRefusedError, BusUnavailableError) as error:
            refused = Probe(None, refused=str(error))
            return [], 0, refused, refused
        totals: dict[str, list[int]] = {}
        for stats in replies:
            for endpoint in stats.endpoints:
                entry = totals.setdefault(endpoint.name, [0, 0, 0])
                entry[0] += endpoint.num_requests
                entry[1] += endpoint.num_errors
                entry[2] += endpoint.processing_time
        endpoints = [
            Endpoint(name, n, errors, (ns / n / 1e6) if n else 0.0)
            for name, (n, errors, ns) in sorted(totals.items())
            if n
        ]
        requests = float(sum(v[0] for v in totals.values()))
        time_ns = float(sum(v[2] for v in totals.values()))
        if not replies:
            none = Probe(None, refused="query statistics: no query service answered")
            return [], 0, none, none
        return endpoints, len(replies), Probe(requests), Probe(time_ns)

    async def sample_forever(self, every_s: float) -> None:
        """A snapshot every `every_s` seconds while the page is wanted (the plots' history),
        until cancelled."""
        while True:
            if time.monotonic() < self._wanted_until:
                with contextlib.suppress(Exception):
                    await self.snapshot()
            await asyncio.sleep(every_s)


def per_hour(
    times: list[datetime], hours: int = 24, now: datetime | None = None
) -> list[tuple[datetime, int]]:
    """How many of `times` fell in each of the last `hours` hours (to `now`), oldest first."""
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    starts = [now - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    counts = dict.fromkeys(starts, 0)
    for moment in times:
        hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if hour in counts:
            counts[hour] += 1
    return list(counts.items())
