"""Wiring the ONE Bus service: MongoDB, NATS, the ingest consumer and the query responder."""

import logging
from threading import Thread
from types import TracebackType
from typing import Any, Self
from wsgiref.simple_server import WSGIServer

from faststream.nats import NatsBroker
from faststream.nats.prometheus import NatsPrometheusMiddleware
from prometheus_client import CollectorRegistry, start_http_server
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from services.ingest.batch_handler import BatchHandler
from services.ingest.change_feed import ChangeFeed
from services.ingest.dead_letters import DeadLetters
from services.ingest.metrics import IngestMetrics
from services.ingest.pull_consumer import PullConsumer
from services.query.subscriber import include_query_subscriber
from services.runtime.streams import declare_streams
from services.security.credentials import mongo_credentials, new_broker, redact_url
from services.settings import Settings
from services.store.indexes import ensure_indexes
from services.store.writer import StoreWriter

log = logging.getLogger(__name__)


def _write_concern(value: str) -> WriteConcern:
    return WriteConcern(w=int(value) if value.isdigit() else value)


class OneBusService:
    """Runs ingest and query against the servers named in `settings`.

    Use as `async with OneBusService(settings): ...`; stopping drains the broker.
    """

    def __init__(self, settings: Settings, *, ingest: bool = True, query: bool = True) -> None:
        self.settings = settings
        self._ingest = ingest
        self._query = query
        self._mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self._broker: NatsBroker | None = None
        self._ingest_consumer: PullConsumer | None = None
        # Per instance, not prometheus_client's global registry: several services may
        # share a process (tests), and each must count only its own work.
        self.metrics_registry = CollectorRegistry()
        self._metrics_server: tuple[WSGIServer, Thread] | None = None

    async def start(self) -> None:
        settings = self.settings
        self._mongo = AsyncMongoClient(
            settings.mongodb_uri,
            **mongo_credentials(settings),
            serverSelectionTimeoutMS=int(settings.mongodb_timeout_s * 1000),
            tz_aware=False,
        )
        database: AsyncDatabase[dict[str, Any]] = self._mongo.get_database(
            settings.mongodb_db, write_concern=_write_concern(settings.mongodb_write_concern)
        )
        await ensure_indexes(database)

        self._broker = new_broker(
            settings,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            graceful_timeout=settings.drain_timeout_s,
            # Per-message "Received/Processed" lines are for debugging, not production.
            log_level=logging.DEBUG,
            middlewares=[
                NatsPrometheusMiddleware(registry=self.metrics_registry, app_name="one-bus")
            ],
        )
        client = await self._broker.connect()
        js = client.jetstream(timeout=settings.publish_ack_timeout_s)
        # Streams are ingest's: a query-only replica (the query identity may not touch
        # the JetStream API, docs/security.md) reads MongoDB only.
        if settings.declare_streams and self._ingest:
            await declare_streams(js, settings)
        if self._ingest:
            handler = BatchHandler(
                StoreWriter(database),
                DeadLetters(js, settings.publish_ack_timeout_s),
                ChangeFeed(js, settings.publish_ack_timeout_s),
                IngestMetrics(self.metrics_registry),
                max_payload_bytes=settings.max_payload_bytes,
                retry_base_delay_s=settings.retry_base_delay_s,
                retry_max_delay_s=settings.retry_max_delay_s,
            )
            self._ingest_consumer = PullConsumer(js, settings, handler.handle)
        if self._query:
            await include_query_subscriber(self._broker, database, settings)
        await self._broker.start()
        if self._ingest_consumer is not None:
            await self._ingest_consumer.start()
        # Started means the server knows our subscriptions: a request sent right after
        # start() must find a responder.
        await client.flush()
        if settings.metrics_port:
            self._metrics_server = start_http_server(
                settings.metrics_port, registry=self.metrics_registry
            )
        log.info(
            "ONE Bus running: NATS %s, MongoDB db %r",
            redact_url(settings.nats_url),
            settings.mongodb_db,
        )

    async def stop(self) -> None:
        # Ingest first: its batch in hand is written, published and acked before the
        # connection goes.
        if self._ingest_consumer is not None:
            await self._ingest_consumer.stop()
            self._ingest_consumer = None
        if self._metrics_server is not None:
            server, thread = self._metrics_server
            server.shutdown()
            thread.join()
            self._metrics_server = None
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None

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
