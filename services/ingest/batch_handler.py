"""The ingest path for one pulled batch: decode → validate → write → publish change → ack.

Acknowledgement policy, chosen explicitly for each message:
- bad input: copied to the DLQ, then terminated (never redelivered);
- written: changes published, then acked. Changes are published *before* the ack so a
  crash in between republishes them on redelivery (deduplicated by Nats-Msg-Id) rather
  than losing them;
- transient failure (store or NATS unavailable): nak'ed with exponential backoff, never
  dead-lettered. Writes are idempotent, so a redelivered batch is harmless;
- asked for its outcome (`One-Outcome-To`, contracts/outcomes.py): answered after the
  ack or term, never before, so an answer always describes a durable result;
- a failure nobody foresaw (an exception from decoding, encoding or the store that is
  not an outage): the batch is split in halves until the message that fails is alone, so
  the others are stored at once; that message is nak'ed with backoff and dead-lettered as
  `processing_failed` once it has been delivered `max_deliveries` times.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from opentelemetry import trace
from opentelemetry.trace import Link

from contracts.outcomes import OutcomeRecord
from services.ingest.decode import decode
from services.ingest.input_limits import InputLimits
from services.ingest.jetstream_message import delivery_count, raw_message
from services.ingest.metrics import IngestMetrics
from services.ingest.outcomes import OutcomeReplies
from services.ingest.rejection import Rejection
from services.store.errors import StoreUnavailableError
from services.store.port import StoreWrites
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest
from services.tracing import context_of, tracer

log = logging.getLogger(__name__)


class DeadLetterSink(Protocol):
    async def send(self, msg: Msg, rejection: Rejection) -> None: ...


class ChangePublisher(Protocol):
    async def publish(self, changes: Sequence[StoredChange]) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_s: float
    max_delay_s: float
    # Deliveries of a message that keeps failing unexpectedly before it is dead-lettered.
    max_deliveries: int

    def delay_s(self, delivery: int) -> float:
        return min(self.base_delay_s * 2.0 ** (delivery - 1), self.max_delay_s)


@dataclass(frozen=True, slots=True)
class _Decoded:
    msg: Msg
    requests: tuple[WriteRequest, ...]


class BatchHandler:
    def __init__(
        self,
        writer: StoreWrites,
        dead_letters: DeadLetterSink,
        change_feed: ChangePublisher,
        metrics: IngestMetrics,
        *,
        limits: InputLimits,
        retry: RetryPolicy,
        outcomes: OutcomeReplies | None = None,
    ) -> None:
        self._writer = writer
        self._dead_letters = dead_letters
        self._change_feed = change_feed
        self._metrics = metrics
        self._limits = limits
        self._retry = retry
        self._outcomes = outcomes

    async def handle(self, messages: Sequence[Msg]) -> None:
        started = time.perf_counter()
        self._metrics.batch_size.observe(len(messages))
        # One span per batch, linked to the trace of each message that carries one.
        contexts = (context_of(msg.headers) for msg in messages)
        links = [
            Link(trace.get_current_span(context).get_span_context())
            for context in contexts
            if context is not None
        ]
        with tracer.start_as_current_span(
            "ingest batch", kind=trace.SpanKind.CONSUMER, links=links
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(messages))
            await self._handle(messages)
        self._metrics.batch_seconds.observe(time.perf_counter() - started)

    async def _handle(self, messages: Sequence[Msg]) -> None:
        decoded: list[_Decoded] = []
        for msg in messages:
            try:
                result = decode(raw_message(msg), self._limits)
            except Exception as error:
                await self._failed_unexpectedly(msg, error)
                continue
            if isinstance(result, Rejection):
                await self._reject(msg, result)
            else:
                decoded.append(_Decoded(msg, result))
        await self._store(decoded)

    async def _store(self, batch: Sequence[_Decoded]) -> None:
        """Write, publish changes, ack; on an unforeseen failure, split to find its message."""
        if not batch:
            return
        try:
            written = await self._write_and_publish(batch)
        except StoreUnavailableError as error:
            log.warning("store unavailable, batch of %d will be retried: %s", len(batch), error)
            await self._retry_later([item.msg for item in batch])
            return
        except (NatsError, TimeoutError) as error:
            log.warning("could not publish changes, batch will be retried: %r", error)
            await self._retry_later([item.msg for item in batch])
            return
        except Exception as error:
            if len(batch) == 1:
                await self._failed_unexpectedly(batch[0].msg, error)
                return
            middle = len(batch) // 2
            await self._store(batch[:middle])
            await self._store(batch[middle:])
            return
        for msg, _ in written:
            await msg.ack()
            self._metrics.count(msg.subject, "written")
        if self._outcomes is not None:
            # After every ack of the batch: answers are buffered and go out in one flush.
            for msg, records in written:
                await self._outcomes.stored(msg, records)

    async def _write_and_publish(
        self, batch: Sequence[_Decoded]
    ) -> list[tuple[Msg, tuple[OutcomeRecord, ...]]]:
        """The messages written and whose changes JetStream stored, each with the records
        it became; refused ones go to the DLQ."""
        requests = [request for item in batch for request in item.requests]
        # The message each request came from: a protocol message becomes several records.
        owners = [index for index, item in enumerate(batch) for _ in item.requests]
        outcome = await self._writer.write(requests)
        refused = {owners[index]: reason for index, reason in outcome.failed.items()}
        await self._change_feed.publish(outcome.changes)
        for owner, reason in refused.items():
            await self._reject(batch[owner].msg, Rejection("store_rejected", reason))
        records: list[list[OutcomeRecord]] = [[] for _ in batch]
        for index, record in sorted(outcome.records.items()):
            records[owners[index]].append(record)
        return [
            (item.msg, tuple(records[index]))
            for index, item in enumerate(batch)
            if index not in refused
        ]

    async def _failed_unexpectedly(self, msg: Msg, error: Exception) -> None:
        delivery = delivery_count(msg)
        log.error(
            "message %s (stream seq %s) failed unexpectedly on delivery %d of %d",
            msg.subject,
            raw_message(msg).stream_seq,
            delivery,
            self._retry.max_deliveries,
            exc_info=error,
        )
        if delivery >= self._retry.max_deliveries:
            why = f"{type(error).__name__}: {error}"
            await self._reject(msg, Rejection("processing_failed", why))
        else:
            await self._retry_later([msg])

    async def _reject(self, msg: Msg, rejection: Rejection) -> None:
        log.info("rejected %s: %s: %.200s", msg.subject, rejection.code, rejection.message)
        try:
            await self._dead_letters.send(msg, rejection)
        except (NatsError, TimeoutError) as error:
            # Terminating without a DLQ copy would lose the message: retry it instead.
            log.warning("could not dead-letter %s, will retry: %r", msg.subject, error)
            await self._retry_later([msg])
            return
        await msg.term()
        self._metrics.count(msg.subject, "dead_lettered")
        self._metrics.dead_letters.labels(reason=rejection.code).inc()
        if self._outcomes is not None:
            await self._outcomes.rejected(msg, rejection)

    async def _retry_later(self, messages: Sequence[Msg]) -> None:
        self._metrics.store_retries.inc()
        for msg in messages:
            self._metrics.count(msg.subject, "retried")
            try:
                await msg.nak(delay=self._retry.delay_s(delivery_count(msg)))
            except NatsError:
                # Connection gone: JetStream redelivers after ack_wait anyway.
                log.debug("nak failed for %s", msg.subject)
