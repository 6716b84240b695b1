"""The ingest path for one pulled batch: decode → validate → write → publish change → ack.

Acknowledgement policy (DESIGN §3, §8), chosen explicitly for each message:
- bad input: copied to the DLQ, then terminated (never redelivered);
- written: changes published, then acked. Changes are published *before* the ack so a
  crash in between republishes them on redelivery (deduplicated by Nats-Msg-Id) rather
  than losing them;
- transient failure (store or NATS unavailable): nak'ed with exponential backoff, never
  dead-lettered. Writes are idempotent, so a redelivered batch is harmless.
"""

import logging
import time
from collections.abc import Sequence

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from services.ingest.change_feed import ChangeFeed
from services.ingest.dead_letters import DeadLetters
from services.ingest.decode import decode
from services.ingest.jetstream_message import delivery_count, raw_message
from services.ingest.metrics import IngestMetrics
from services.ingest.rejection import Rejection
from services.store.failures import TransientStoreError
from services.store.write_request import WriteRequest
from services.store.writer import StoreWriter

log = logging.getLogger(__name__)


class BatchHandler:
    def __init__(
        self,
        writer: StoreWriter,
        dead_letters: DeadLetters,
        change_feed: ChangeFeed,
        metrics: IngestMetrics,
        *,
        max_payload_bytes: int,
        retry_base_delay_s: float,
        retry_max_delay_s: float,
    ) -> None:
        self._writer = writer
        self._dead_letters = dead_letters
        self._change_feed = change_feed
        self._metrics = metrics
        self._max_payload_bytes = max_payload_bytes
        self._retry_base_delay_s = retry_base_delay_s
        self._retry_max_delay_s = retry_max_delay_s

    async def handle(self, messages: Sequence[Msg]) -> None:
        started = time.perf_counter()
        self._metrics.batch_size.observe(len(messages))
        await self._handle(messages)
        self._metrics.batch_seconds.observe(time.perf_counter() - started)

    async def _handle(self, messages: Sequence[Msg]) -> None:
        accepted: list[Msg] = []
        requests: list[WriteRequest] = []
        # The message each request came from: a protocol message becomes several records.
        owners: list[int] = []
        for msg in messages:
            decoded = decode(raw_message(msg), self._max_payload_bytes)
            if isinstance(decoded, Rejection):
                await self._reject(msg, decoded)
                continue
            owners.extend([len(accepted)] * len(decoded))
            requests.extend(decoded)
            accepted.append(msg)
        if accepted:
            await self._write(accepted, requests, owners)

    async def _write(
        self, accepted: list[Msg], requests: list[WriteRequest], owners: list[int]
    ) -> None:
        try:
            outcome = await self._writer.write(requests)
        except TransientStoreError as error:
            log.warning("store unavailable, batch of %d will be retried: %s", len(accepted), error)
            await self._retry_later(accepted)
            return
        refused = {owners[index]: reason for index, reason in outcome.failed.items()}
        for owner, reason in refused.items():
            await self._reject(accepted[owner], Rejection("store_rejected", reason))
        written = [msg for owner, msg in enumerate(accepted) if owner not in refused]
        try:
            await self._change_feed.publish(outcome.changes)
        except (NatsError, TimeoutError) as error:
            log.warning("could not publish changes, batch will be retried: %r", error)
            await self._retry_later(written)
            return
        for msg in written:
            await msg.ack()
            self._metrics.count(msg.subject, "written")

    async def _reject(self, msg: Msg, rejection: Rejection) -> None:
        log.info("rejected %s: %s: %s", msg.subject, rejection.code, rejection.message)
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

    async def _retry_later(self, messages: Sequence[Msg]) -> None:
        self._metrics.store_retries.inc()
        for msg in messages:
            self._metrics.count(msg.subject, "retried")
            attempt = delivery_count(msg)
            delay = min(self._retry_base_delay_s * 2 ** (attempt - 1), self._retry_max_delay_s)
            try:
                await msg.nak(delay=delay)
            except NatsError:
                # Connection gone: JetStream redelivers after ack_wait anyway.
                log.debug("nak failed for %s", msg.subject)
