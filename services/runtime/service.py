"""Wiring the ONE Bus service: MongoDB, NATS, the ingest consumer and the query responder.

Requests are answered on a connection of their own when a responder identity is set
(`ONE_NATS_RESPONDER_CREDENTIALS_FILE`, the secure layout): the connection that receives
requests may publish only to inboxes, and the one that writes (ingest, the live-query
bucket) receives no request, so no reply subject a requester names can steer a write.
"""

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self

import nats
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError
from prometheus_client import CollectorRegistry

from contracts.subjects import TENANTS_BUCKET
from one_bus.connection import nats_options
from services.ingest.batch_handler import BatchHandler, RetryPolicy
from services.ingest.change_feed import ChangeFeed
from services.ingest.dead_letters import DeadLetters
from services.ingest.input_limits import InputLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.outcomes import OutcomeReplies
from services.ingest.pull_consumer import PullConsumer
from services.query.admission import Admission, replica_admission
from services.query.progress import IngestProgress
from services.query.responder import QueryResponder
from services.runtime.health import Check, HealthServer, HealthState, beat
from services.runtime.streams import declare_streams
from services.runtime.tenant_directory import TenantDirectory, tenants_bucket
from services.security.consumer_warden import ConsumerWarden
from services.security.credentials import new_broker, responder_spec
from services.security.redact import redact_uri
from services.settings import Settings
from services.store.errors import StoreUnavailableError
from services.store.mongodb.connection import MongoStore, open_store
from services.store.port import StoreReads
from services.watch.responder import WatchResponder
from services.watch.service import WatchService

log = logging.getLogger(__name__)


# Room kept under the server's max payload for what a change or dead letter adds to the
# message it came from (envelope, headers).
_PAYLOAD_HEADROOM = 16 * 1024


class UnreachableError(Exception):
    """A server the service needs did not answer; the message says which and why."""


class OneBusService:
    """Runs ingest and query against the servers named in `settings`.

    Use as `async with OneBusService(settings): ...`; stopping drains the broker.
    """

    def __init__(self, settings: Settings, *, ingest: bool = True, query: bool = True) -> None:
        self.settings = settings
        self._ingest = ingest
        self._query = query
        self._store: MongoStore | None = None
        self._broker: NatsBroker | None = None
        self._client: NatsClient | None = None
        # The connection answering requests: `_client` itself unless a responder identity
        # is configured.
        self._answering: NatsClient | None = None
        self._ingest_consumer: PullConsumer | None = None
        self._responder: QueryResponder | None = None
        self._progress: IngestProgress | None = None
        # Live queries ride with the query side (docs/watch.md).
        self.watches: WatchService | None = None
        self._watch_responder: WatchResponder | None = None
        self._watch_retry: asyncio.Task[None] | None = None
        self.consumer_warden: ConsumerWarden | None = None
        # Every tenant's quotas (ONE_TENANTS), followed once for every part of the process.
        self.tenants: TenantDirectory | None = None
        self._admission: Admission | None = None
        self._tenants_retry: asyncio.Task[None] | None = None
        # Per instance, not prometheus_client's global registry: several services may
        # share a process (tests), and each must count only its own work.
        self.metrics_registry = CollectorRegistry()
        # /healthz, /readyz and /metrics on `metrics_port`.
        self.health = HealthState()
        self._health_server: HealthServer | None = None
        self._beat: asyncio.Task[None] | None = None
        # Set when the NATS connection is closed for good while we are not stopping (the
        # server closed it: nats-py does not reconnect then). The runner starts afresh.
        self.connection_lost = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        settings = self.settings
        try:
            store = self._store = await open_store(settings)
        except StoreUnavailableError as error:
            raise UnreachableError(
                f"MongoDB at {redact_uri(settings.mongodb_uri)}: {_first_line(error)}"
            ) from error

        self._broker = new_broker(
            settings,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=max(1, round(settings.connect_timeout_s)),
            graceful_timeout=settings.drain_timeout_s,
            error_cb=self._nats_error,
            disconnected_cb=self._nats_disconnected,
            reconnected_cb=self._nats_reconnected,
            closed_cb=self._nats_closed,
            # Per-message "Received/Processed" lines are for debugging, not production.
            log_level=logging.DEBUG,
        )
        try:
            client = await asyncio.wait_for(self._broker.connect(), settings.connect_timeout_s)
            self._client = client
        except (TimeoutError, OSError, NatsError) as error:
            raise UnreachableError(
                f"NATS at {redact_uri(settings.nats_url)}: {_first_line(error)}"
            ) from error
        js = client.jetstream(timeout=settings.publish_ack_timeout_s)
        # Streams are ingest's: a query-only replica (the query identity may not touch
        # the JetStream API, docs/security.md) reads MongoDB only.
        if settings.declare_streams and self._ingest:
            await declare_streams(js, settings)
        # Answers (query replies, watch pushes, write outcomes) leave on the responder
        # identity's connection where one is configured.
        answering = await self._connect_answering(client)
        if self._ingest:
            max_payload = client.max_payload
            limits = InputLimits(
                max_payload_bytes=min(settings.max_payload_bytes, max_payload - _PAYLOAD_HEADROOM),
                max_header_bytes=settings.max_header_bytes,
                max_clock_skew_ms=int(settings.max_clock_skew_s * 1000),
            )
            handler = BatchHandler(
                store.writes,
                DeadLetters(js, settings.publish_ack_timeout_s, max_payload),
                ChangeFeed(client, settings.publish_ack_timeout_s, max_payload),
                IngestMetrics(self.metrics_registry),
                limits=limits,
                retry=RetryPolicy(
                    settings.retry_base_delay_s,
                    settings.retry_max_delay_s,
                    settings.max_deliveries,
                ),
                outcomes=OutcomeReplies(
                    answering, self.metrics_registry, plain_inbox=settings.replies_to_plain_inbox
                ),
            )
            self._ingest_consumer = PullConsumer(client, js, settings, handler.handle)
        if self._query:
            # One for queries and watches: their waits on `after` share each read.
            self._progress = IngestProgress(
                client.jetstream(timeout=settings.publish_ack_timeout_s), settings
            )
            tenants = await self._open_tenants(js)
            # One count of requests in hand per tenant, for queries and watches alike.
            self._admission = replica_admission(settings, tenants.quotas)
            store_reads = store.reads
            self._responder = QueryResponder(
                answering,
                store_reads,
                settings,
                self.metrics_registry,
                self._progress,
                self._admission,
            )
            await self._responder.start()
            if settings.watch_enabled:
                await self._start_watches(client, store_reads)
            if settings.consumer_sweep_s:
                # Tenants' consumers on the changes and dead letters, bounded per tenant.
                self.consumer_warden = ConsumerWarden(
                    js,
                    (settings.changes_stream, settings.dlq_stream),
                    lambda tenant: (
                        tenants.quotas(tenant).max_consumers or settings.tenant_max_consumers
                    ),
                    settings.consumer_sweep_s,
                )
                self.consumer_warden.start()
        await self._broker.start()
        if self._ingest_consumer is not None:
            await self._ingest_consumer.start()
        # Started means the server knows our subscriptions: a request sent right after
        # start() must find a responder.
        await client.flush()
        responder = self._answering
        if responder is not None and responder is not client:
            await responder.flush()
        consumer = self._ingest_consumer
        checks: dict[str, Check] = {
            "nats": lambda: None if client.is_connected else "not connected"
        }
        if responder is not None and responder is not client:
            checks["nats_responder"] = lambda: None if responder.is_connected else "not connected"
        if consumer is not None:
            checks["consumer"] = lambda: None if consumer.fetching else "not fetching"
        self._beat = asyncio.create_task(
            beat(self.health, store.ping, checks),
            name="one-bus-health",
        )
        self.health.checks["started"] = None
        if settings.metrics_port:
            self._health_server = HealthServer(
                settings.metrics_port, self.health, self.metrics_registry
            )
            self._health_server.start()
        log.info(
            "ONE Bus running: NATS %s, MongoDB db %r",
            redact_uri(settings.nats_url),
            settings.mongodb_db,
        )

    async def _connect_answering(self, client: NatsClient) -> NatsClient:
        """The connection requests are answered on (services/security/roles.py, responder)."""
        spec = responder_spec(self.settings)
        if spec is None:
            self._answering = client
            return client
        try:
            self._answering = await nats.connect(
                **nats_options(spec),
                name="one-bus-responder",
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=max(1, round(self.settings.connect_timeout_s)),
                error_cb=self._nats_error,
                disconnected_cb=self._nats_disconnected,
                reconnected_cb=self._nats_reconnected,
                closed_cb=self._nats_closed,
            )
        except (TimeoutError, OSError, NatsError) as error:
            raise UnreachableError(
                f"NATS at {redact_uri(self.settings.nats_url)} as the responder: "
                f"{_first_line(error)}"
            ) from error
        return self._answering

    async def _open_tenants(self, js: JetStreamContext) -> TenantDirectory:
        """The tenant directory, following ONE_TENANTS (created here when this process
        declares streams). Until the bucket exists (`one-bus tenant add` creates it), every
        tenant has the deployment's defaults (`ONE_TENANT_*`) and the bucket is looked for
        in the background; out of reach for another reason (permissions), the defaults
        stay, said loudly: quotas set by `tenant add/set` then do not apply."""
        settings = self.settings
        directory = TenantDirectory(js, settings.tenant_defaults)
        self.tenants = directory
        declare = settings.declare_streams and self._ingest

        async def follow() -> None:
            kv = await tenants_bucket(js, settings.stream_replicas, declare=declare)
            await directory.start(kv)
            await asyncio.wait_for(directory.loaded.wait(), settings.connect_timeout_s)

        async def when_created() -> None:
            delay = 1.0
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                try:
                    await follow()
                except BucketNotFoundError:
                    continue
                except (NatsError, TimeoutError) as error:
                    log.error("tenant quotas stay the defaults: %s", _first_line(error))
                    return
                log.info("tenant quotas: following %s", TENANTS_BUCKET)
                return

        try:
            await follow()
        except BucketNotFoundError:
            log.warning(
                "tenant quotas are the defaults until KV bucket %s exists (tenant add)",
                TENANTS_BUCKET,
            )
            self._tenants_retry = asyncio.create_task(when_created(), name="one-bus-tenants")
        except (NatsError, TimeoutError) as error:
            log.error(
                "tenant quotas are the defaults for every tenant: KV bucket %s out of reach: %s",
                TENANTS_BUCKET,
                _first_line(error),
            )
        return directory

    async def _start_watches(self, client: NatsClient, store_reads: StoreReads) -> None:
        """Live queries (docs/watch.md), once the changes stream exists: a query-only
        replica may start before ingest declares it, and then waits for it in the
        background. Their KV bucket out of reach (not declared, or not permitted to this
        identity) turns them off, loudly, and leaves queries running."""
        js = client.jetstream(timeout=self.settings.publish_ack_timeout_s)

        async def changes_stream_exists() -> bool:
            try:
                await js.stream_info(self.settings.changes_stream)
            except NotFoundError:
                return False
            return True

        async def when_ready() -> None:
            delay = 1.0
            while not await changes_stream_exists():
                log.warning(
                    "live queries wait for stream %s (declared by ingest); next look in %.0f s",
                    self.settings.changes_stream,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            await self._open_watches(client, store_reads)

        if await changes_stream_exists():
            await self._open_watches(client, store_reads)
        else:
            self._watch_retry = asyncio.create_task(when_ready(), name="one-bus-watch-wait")

    async def _open_watches(self, client: NatsClient, store_reads: StoreReads) -> None:
        quotas = None if self.tenants is None else self.tenants.quotas
        watches = WatchService(client, store_reads, self.settings, self.metrics_registry, quotas)
        try:
            await watches.start()
        except (NatsError, TimeoutError) as error:
            log.error(
                "live queries are off: KV bucket %s or stream %s out of reach: %s",
                self.settings.watch_kv_bucket,
                self.settings.changes_stream,
                _first_line(error),
            )
            await watches.stop()
            return
        self.watches = watches
        self._watch_responder = WatchResponder(
            self._answering or client,
            watches,
            self.settings,
            self.metrics_registry,
            self._progress,
            self._admission,
        )
        await self._watch_responder.start()

    @property
    def query_responder(self) -> QueryResponder | None:
        """The query side of a started service (None when it runs ingest only)."""
        return self._responder

    @property
    def nats(self) -> NatsClient:
        """The service's NATS connection (started services only)."""
        if self._client is None:
            raise RuntimeError("the service is not started")
        return self._client

    async def _nats_error(self, error: Exception) -> None:
        log.warning("NATS at %s: %s", self.settings.nats_url, _first_line(error))

    async def _nats_disconnected(self) -> None:
        if not self._stopping:
            log.warning("NATS disconnected; reconnecting")

    async def _nats_reconnected(self) -> None:
        log.info("NATS reconnected")
        if self._ingest_consumer is not None:
            self._ingest_consumer.connection_restored()

    async def _nats_closed(self) -> None:
        if not self._stopping:
            log.error("NATS connection closed by the server; the service will start again")
            self.connection_lost.set()

    async def stop(self) -> None:
        self._stopping = True
        # Ingest first: its batch in hand is written, published and acked before the
        # connection goes.
        if self._ingest_consumer is not None:
            await self._ingest_consumer.stop()
            self._ingest_consumer = None
        if self._responder is not None:
            await self._responder.stop(self.settings.drain_timeout_s)
            self._responder = None
        if self.consumer_warden is not None:
            await self.consumer_warden.stop()
            self.consumer_warden = None
        if self._watch_retry is not None:
            self._watch_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_retry
            self._watch_retry = None
        if self._watch_responder is not None:
            await self._watch_responder.stop(self.settings.drain_timeout_s)
            self._watch_responder = None
        if self.watches is not None:
            await self.watches.stop()
            self.watches = None
        if self._progress is not None:
            await self._progress.stop()
            self._progress = None
        if self._answering is not None:
            answering, self._answering = self._answering, None
            if answering is not self._client:
                with contextlib.suppress(NatsError):
                    await answering.drain()
        if self._tenants_retry is not None:
            self._tenants_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError, NatsError, TimeoutError):
                await self._tenants_retry
            self._tenants_retry = None
        if self.tenants is not None:
            with contextlib.suppress(NatsError):
                await self.tenants.stop()
            self.tenants = None
        self.health.checks["started"] = "stopping"
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self._health_server is not None:
            self._health_server.stop()
            self._health_server = None
        if self._broker is not None:
            try:
                await self._broker.stop()
            except Exception:
                # Nothing can be drained on a connection the server closed or that is
                # reconnecting (stopped during an outage): what was not acked is
                # redelivered, so the connection is just closed.
                client = self._client
                if client is None or not (client.is_closed or client.is_reconnecting):
                    raise
                # nats-py's close still flushes, onto the dead transport (RuntimeError).
                with contextlib.suppress(NatsError, RuntimeError, OSError):
                    await client.close()
            self._broker = None
            self._client = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
