"""Answering publishers who asked what became of their write (contracts/outcomes.py).

An answer is a core NATS publish to the `One-Outcome-To` inbox, made after the message
was acked (stored) or terminated (dead-lettered): never before the result is durable.
nats-py buffers publishes until its flusher runs, so a batch's answers leave in one write
to the socket, with no round trip per message (benchmarks/outcomes.py measures the cost).

Delivery is at most once: a crash between the ack and the answer loses it (the SDK then
raises a timeout carrying the sequence, to check with `after`). A message is answered
again only if it is redelivered after its ack was lost; that answer describes the store
as it is then, and the SDK keeps the first answer of a write only.

The target goes through the service's reply rule (the asker's own inbox, as for query
replies); a refused one is dropped and counted, never published and never logged per
message (a publisher could fill the log).
"""

from collections.abc import Sequence

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from prometheus_client import CollectorRegistry, Counter

from contracts.outcomes import OUTCOME_TO_HEADER, OutcomeRecord, Rejected, Stored, valid_target
from contracts.subjects import tenant_of
from services.ingest.rejection import Rejection
from services.security.reply_guard import ReplyGuard


class OutcomeReplies:
    """`client` is the connection answers leave on: the responder identity's where one is
    configured (it may publish to inboxes only), so nats-server refuses a target the reply
    rule would miss."""

    def __init__(
        self, client: NatsClient, registry: CollectorRegistry, *, plain_inbox: bool
    ) -> None:
        self._client = client
        # The rule every answer of the service follows (services/security/reply_guard.py);
        # an operator replaying a dead letter asks on the tenant's subject.
        self._guard = ReplyGuard(registry, "outcomes", plain_inbox=plain_inbox, service_askers=True)
        self._answers = Counter(
            "one_bus_ingest_outcomes",
            "Outcome answers to publishers: sent, refused (not the asking tenant's inbox, "
            "or not a subject), failed (the connection was gone).",
            ["result"],
            registry=registry,
        )

    async def stored(self, msg: Msg, records: Sequence[OutcomeRecord]) -> None:
        target = self._target(msg)
        if target is not None:
            stream, seq = _position(msg)
            answer = Stored(stream=stream, seq=seq, records=tuple(records))
            await self._send(target, answer.model_dump_json(exclude_none=True).encode())

    async def rejected(self, msg: Msg, rejection: Rejection) -> None:
        target = self._target(msg)
        if target is not None:
            stream, seq = _position(msg)
            answer = Rejected(
                stream=stream, seq=seq, code=rejection.code, message=rejection.message
            )
            await self._send(target, answer.model_dump_json().encode())

    def _target(self, msg: Msg) -> str | None:
        """The inbox to answer at: None if not asked, or refused (counted)."""
        target = (msg.headers or {}).get(OUTCOME_TO_HEADER)
        if target is None:
            return None
        tenant = tenant_of(msg.subject)
        if tenant is None or not valid_target(target) or not self._guard.allows(tenant, target):
            self._answers.labels(result="refused").inc()
            return None
        return target

    async def _send(self, target: str, body: bytes) -> None:
        try:
            await self._client.publish(target, body)
        except NatsError:
            # At most once: the publisher's wait times out, and `after` tells it the rest.
            self._answers.labels(result="failed").inc()
            return
        self._answers.labels(result="sent").inc()


def _position(msg: Msg) -> tuple[str, int]:
    metadata = msg.metadata
    return metadata.stream, metadata.sequence.stream
