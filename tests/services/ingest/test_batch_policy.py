"""The acknowledgement policy of a batch, with fakes for the store and the streams (the
composition root passes them in): what is acked, retried, or dead-lettered, and when."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from services.ingest.batch_handler import BatchHandler, RetryPolicy
from services.ingest.input_limits import InputLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.rejection import Rejection
from services.store.errors import StoreUnavailableError
from services.store.port import BatchOutcome
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest

RETRY = RetryPolicy(base_delay_s=0.5, max_delay_s=30, max_deliveries=3)


@dataclass
class FakeMsg:
    """What the handler reads of a JetStream message, and what it answered."""

    subject: str
    data: bytes
    seq: int
    delivered: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> SimpleNamespace:
        return SimpleNamespace(
            stream="ONE_INGEST",
            sequence=SimpleNamespace(stream=self.seq),
            timestamp=datetime(2026, 12, 1, tzinfo=UTC),
            num_delivered=self.delivered,
        )

    async def ack(self) -> None:
        self.answers.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.answers.append(f"nak {delay}")

    async def term(self) -> None:
        self.answers.append("term")


def login(seq: int, event_id: str, delivered: int = 1) -> FakeMsg:
    event = {"id": event_id, "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}}
    return FakeMsg("one.v1.acme.events.user_login", json.dumps(event).encode(), seq, delivered)


class Writer:
    """Stores whatever it is given, except that `poison` makes the whole write raise."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.stored: list[str] = []
        self.calls = 0

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        self.calls += 1
        ids = [getattr(request.command, "id", "") for request in batch]
        if "poison" in ids:
            raise self.error
        self.stored.extend(ids)
        return BatchOutcome()


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Rejection]] = []

    async def send(self, msg: Msg, rejection: Rejection) -> None:
        self.sent.append((msg.subject, rejection))


class Changes:
    async def publish(self, changes: Sequence[StoredChange]) -> None:
        return None


def handler(writer: Writer, dead: DeadLetters) -> BatchHandler:
    return BatchHandler(
        writer,
        dead,
        Changes(),
        IngestMetrics(CollectorRegistry()),
        limits=InputLimits(max_payload_bytes=4096),
        retry=RETRY,
    )


async def test_an_unforeseen_failure_is_isolated_and_the_rest_of_the_batch_is_acked() -> None:
    writer, dead = Writer(OverflowError("MongoDB can only handle up to 8-byte ints")), DeadLetters()
    batch = [login(n, "poison" if n == 5 else f"e{n}") for n in range(1, 9)]
    await handler(writer, dead).handle(cast(list[Msg], batch))

    assert sorted(writer.stored) == sorted(f"e{n}" for n in range(1, 9) if n != 5)
    assert [m.answers for m in batch if m.seq != 5] == [["ack"]] * 7
    assert batch[4].answers == ["nak 0.5"]  # retried with backoff, not yet dead
    assert dead.sent == []
    assert writer.calls <= 1 + 2 * 3  # halving: a logarithmic number of writes


async def test_a_message_that_keeps_failing_is_dead_lettered_after_max_deliveries() -> None:
    writer, dead = Writer(ValueError("boom")), DeadLetters()
    second = login(1, "poison", delivered=2)
    await handler(writer, dead).handle(cast(list[Msg], [second]))
    assert second.answers == ["nak 1.0"]

    last = login(1, "poison", delivered=RETRY.max_deliveries)
    await handler(writer, dead).handle(cast(list[Msg], [last]))
    assert last.answers == ["term"]
    [(subject, rejection)] = dead.sent
    assert subject == "one.v1.acme.events.user_login"
    assert (rejection.code, rejection.message) == ("processing_failed", "ValueError: boom")


async def test_an_outage_is_retried_forever_and_never_dead_lettered() -> None:
    writer, dead = Writer(StoreUnavailableError("no primary")), DeadLetters()
    batch = [login(1, "poison", delivered=1000), login(2, "e2", delivered=1000)]
    await handler(writer, dead).handle(cast(list[Msg], batch))
    assert [m.answers for m in batch] == [["nak 30"], ["nak 30"]]
    assert dead.sent == []


@pytest.mark.parametrize("delivered", [1, 50])
async def test_bad_input_is_dead_lettered_on_its_first_delivery(delivered: int) -> None:
    writer, dead = Writer(ValueError("unused")), DeadLetters()
    bad = FakeMsg("one.v1.acme.events.user_login", b"{not json", 1, delivered)
    await handler(writer, dead).handle(cast(list[Msg], [bad, login(2, "e2")]))
    assert bad.answers == ["term"]
    assert [r.code for _, r in dead.sent] == ["malformed_json"]
    assert writer.stored == ["e2"]
