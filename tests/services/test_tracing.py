"""Trace context crosses the bus: a publisher's trace is linked from the ingest batch that
stored its message, the changes carry the batch's trace, a query joins the requester's
trace, and the store commands are spans inside them. Spans are read from OpenTelemetry's
in-memory exporter, on a service and a nats-server of this module's own."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime.embedded import EmbeddedServers
from services.runtime.service import OneBusService
from services.settings import Settings
from services.tracing import instrument_store
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The API allows one global provider per process: this module's, from here on.
    trace.set_tracer_provider(provider)
    instrument_store()
    yield exporter
    PymongoInstrumentor().uninstrument()  # later store clients of the session go untraced
    exporter.clear()


@pytest.fixture(scope="module")
async def traced_bus(
    spans: InMemorySpanExporter, tmp_path_factory: pytest.TempPathFactory, mongodb_uri: str
) -> AsyncIterator[NatsClient]:
    """A service created after the instrumentation (it applies to new store clients)."""
    servers = EmbeddedServers(tmp_path_factory.mktemp("traced"))
    await servers.start_nats()
    settings = Settings(
        nats_url=servers.nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"traced_{uuid.uuid4().hex[:8]}",
    )
    try:
        async with OneBusService(settings):
            client = await nats.connect(servers.nats_url)
            yield client
            await client.close()
    finally:
        await servers.stop()


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


async def finished(spans: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    return spans.get_finished_spans()


async def test_an_ingested_message_links_its_trace_and_its_change_continues_the_batch(
    spans: InMemorySpanExporter, traced_bus: NatsClient, tenant: str
) -> None:
    js = traced_bus.jetstream()
    changes = await js.subscribe(f"one.v1.{tenant}.changes.entities.>", ordered_consumer=True)
    entity = {"id": "t1", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    await js.publish(
        f"one.v1.{tenant}.entities.creator.upsert",
        json.dumps(entity).encode(),
        headers={"traceparent": TRACEPARENT},
    )
    change = await changes.next_msg(timeout=15)
    await changes.unsubscribe()

    def linked(all_spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
        return [
            span
            for span in all_spans
            if span.name == "ingest batch"
            and any(format(link.context.trace_id, "032x") == TRACE_ID for link in span.links)
        ]

    [batch] = linked(await eventually(lambda: finished(spans), lambda s: bool(linked(s))))
    assert change.headers is not None
    assert change.headers["traceparent"].split("-")[1] == trace_id(batch)
    store_spans = [s for s in spans.get_finished_spans() if trace_id(s) == trace_id(batch)]
    assert any(s.attributes and s.attributes.get("db.system") == "mongodb" for s in store_spans)


async def test_a_query_is_answered_in_a_child_of_the_requesters_span(
    spans: InMemorySpanExporter, traced_bus: NatsClient, tenant: str
) -> None:
    # entities.list reads in the request's own task (concurrent entities.get lookups share
    # one read, made outside any one request's span).
    await traced_bus.request(
        f"one.v1.{tenant}.query.entities.list",
        b'{"type": "creator"}',
        timeout=5,
        headers={"traceparent": TRACEPARENT},
    )

    def queries(all_spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
        return [
            span
            for span in all_spans
            if span.name == "query entities.list" and trace_id(span) == TRACE_ID
        ]

    [query] = queries(await eventually(lambda: finished(spans), lambda s: bool(queries(s))))
    assert query.parent is not None
    assert format(query.parent.span_id, "016x") == PARENT_ID
    assert query.attributes is not None
    assert query.attributes["one.query.outcome"] == "ok"
    reads = [s for s in spans.get_finished_spans() if trace_id(s) == TRACE_ID and s is not query]
    assert any(s.attributes and s.attributes.get("db.system") == "mongodb" for s in reads)
