"""Trace context crosses the bus: a publisher's trace is linked from the ingest batch that
stored its message, the changes carry the batch's trace, and a query joins the
requester's trace. Spans are read from OpenTelemetry's in-memory exporter."""

import json
from collections.abc import Iterator

import nats.aio.client
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

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
    yield exporter
    exporter.clear()


async def test_an_ingested_message_links_its_trace_and_its_change_continues_the_batch(
    spans: InMemorySpanExporter, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    js = nats_client.jetstream()
    changes = await js.subscribe(f"one.v1.{tenant}.changes.entities.>", ordered_consumer=True)
    entity = {"id": "t1", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    await js.publish(
        f"one.v1.{tenant}.entities.creator.upsert",
        json.dumps(entity).encode(),
        headers={"traceparent": TRACEPARENT},
    )
    change = await changes.next_msg(timeout=15)
    await changes.unsubscribe()

    def batches() -> list[object]:
        return [
            span
            for span in spans.get_finished_spans()
            if span.name == "ingest batch"
            and any(format(link.context.trace_id, "032x") == TRACE_ID for link in span.links)
        ]

    [batch] = await eventually(lambda: _now(batches()), bool)
    assert change.headers is not None
    batch_trace = format(batch.context.trace_id, "032x")  # type: ignore[attr-defined]
    assert change.headers["traceparent"].split("-")[1] == batch_trace


async def test_a_query_is_answered_in_a_child_of_the_requesters_span(
    spans: InMemorySpanExporter, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    await nats_client.request(
        f"one.v1.{tenant}.query.entities.get",
        b'{"id": "nobody"}',
        timeout=5,
        headers={"traceparent": TRACEPARENT},
    )

    def queries() -> list[object]:
        return [
            span
            for span in spans.get_finished_spans()
            if span.name == "query entities.get"
            and format(span.context.trace_id, "032x") == TRACE_ID
        ]

    [query] = await eventually(lambda: _now(queries()), bool)
    assert format(query.parent.span_id, "016x") == PARENT_ID  # type: ignore[attr-defined]
    assert query.attributes["one.query.outcome"] == "not_found"  # type: ignore[attr-defined]


async def _now(value: list[object]) -> list[object]:
    return value
