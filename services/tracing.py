"""Traces across the bus: W3C trace context in NATS headers, OpenTelemetry spans.

A publisher that sets `traceparent` on a message (any OpenTelemetry SDK injects it) finds
its trace linked from the ingest batch that stored it; the changes that batch published
carry the batch's own `traceparent`, so a subscriber continues the trace. A query with
`traceparent` is answered inside a child span, and every MongoDB command is a span within
the batch or query that sent it. Spans are exported over OTLP/HTTP when the
standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; otherwise the
tracer is OpenTelemetry's no-op and costs next to nothing.
"""

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACEPARENT = "traceparent"

tracer = trace.get_tracer("one-bus")


def configure_tracing(service_name: str = "one-bus") -> bool:
    """Install an exporting tracer provider if an OTLP endpoint is configured."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument_store()
    return True


def instrument_store() -> None:
    """A span per MongoDB command (PyMongo's instrumentation), inside the batch or query
    span that sent it. Applies to clients created afterwards."""
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    instrumentor = PymongoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def context_of(headers: Mapping[str, str] | None) -> Context | None:
    """The trace context a message carries, or None (no `traceparent`: nothing to join)."""
    if not headers or TRACEPARENT not in headers:
        return None
    return propagate.extract(dict(headers))


def current_trace_headers() -> dict[str, str]:
    """The current span's context as headers to send on (empty when not tracing)."""
    carrier: dict[str, str] = {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier
