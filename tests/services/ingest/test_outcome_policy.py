"""When outcomes are answered, with fakes for the store and the streams: after the ack or
term and never before, once per message, for the failures only fakes can make on demand
(a store refusing a document, a failure nobody foresaw)."""

import json
from collections.abc import Sequence
from typing import cast

from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from contracts.outcomes import OUTCOME, OUTCOME_TO_HEADER, OutcomeRecord, Rejected, Stored
from services.ingest.batch_handler import BatchHandler
from services.ingest.input_limits import InputLimits
from services.ingest.metrics import IngestMetrics
from services.ingest.outcomes import OutcomeReplies
from services.store.port import BatchOutcome
from services.store.write_request import WriteRequest
from tests.services.ingest.test_batch_policy import RETRY, Changes, DeadLetters, FakeMsg, login


class Answers:
    """A NATS connection that records what is published, in order with the acks."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.sent: list[tuple[str, Stored | Rejected]] = []

    async def publish(self, subject: str, payload: bytes) -> None:
        outcome = OUTCOME.validate_json(payload)
        self.log.append(f"outcome {outcome.seq}")
        self.sent.append((subject, outcome))


class Logged(FakeMsg):
    log: list[str]

    async def ack(self) -> None:
        self.log.append(f"ack {self.seq}")

    async def term(self) -> None:
        self.log.append(f"term {self.seq}")


class Writer:
    """Refuses `bad` (as MongoDB refuses a document), raises on `poison`."""

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        ids = [getattr(request.command, "id", "") for request in batch]
        if "poison" in ids:
            raise ValueError("boom")
        outcome = BatchOutcome()
        for index, record_id in enumerate(ids):
            if record_id == "bad":
                outcome.failed[index] = "store refused the document (2): no"
            else:
                outcome.records[index] = OutcomeRecord(
                    collection="events", id=record_id, effect="created"
                )
        return outcome


def asking(seq: int, event_id: str, log: list[str], delivered: int = 1) -> Logged:
    plain = login(seq, event_id, delivered)
    msg = Logged(plain.subject, plain.data, seq, delivered, {OUTCOME_TO_HEADER: f"_INBOX.o.{seq}"})
    msg.log = log
    return msg


def handler(answers: Answers) -> BatchHandler:
    return BatchHandler(
        Writer(),
        DeadLetters(),
        Changes(),
        IngestMetrics(CollectorRegistry()),
        limits=InputLimits(max_payload_bytes=4096),
        retry=RETRY,
        outcomes=OutcomeReplies(cast(NatsClient, answers), CollectorRegistry(), plain_inbox=True),
    )


async def test_each_message_is_answered_once_after_its_ack_or_term() -> None:
    log: list[str] = []
    answers = Answers(log)
    batch = [asking(1, "e1", log), asking(2, "bad", log), asking(3, "e3", log)]
    batch.append(asking(4, "poison", log, delivered=RETRY.max_deliveries))
    await handler(answers).handle(cast(list[Msg], batch))

    for seq in (1, 3):
        assert log.index(f"ack {seq}") < log.index(f"outcome {seq}")
    for seq in (2, 4):
        assert log.index(f"term {seq}") < log.index(f"outcome {seq}")
    by_seq = {outcome.seq: (subject, outcome) for subject, outcome in answers.sent}
    assert len(answers.sent) == len(by_seq) == 4
    assert {seq: subject for seq, (subject, _) in by_seq.items()} == {
        n: f"_INBOX.o.{n}" for n in (1, 2, 3, 4)
    }
    stored = by_seq[1][1]
    assert isinstance(stored, Stored)
    assert [(r.id, r.effect) for r in stored.records] == [("e1", "created")]
    refused, failed = by_seq[2][1], by_seq[4][1]
    assert isinstance(refused, Rejected)
    assert isinstance(failed, Rejected)
    assert (refused.code, refused.message) == (
        "store_rejected",
        "store refused the document (2): no",
    )
    assert (failed.code, failed.message) == ("processing_failed", "ValueError: boom")


async def test_a_message_to_be_retried_is_not_answered_yet() -> None:
    log: list[str] = []
    answers = Answers(log)
    retried = asking(1, "poison", log, delivered=1)
    await handler(answers).handle(cast(list[Msg], [retried]))
    assert answers.sent == []


async def test_a_message_that_did_not_ask_is_not_answered() -> None:
    log: list[str] = []
    answers = Answers(log)
    plain = login(1, "e1")
    await handler(answers).handle(cast(list[Msg], [plain]))
    assert plain.answers == ["ack"]
    assert answers.sent == []


def test_answers_are_json_a_client_in_any_language_reads() -> None:
    stored = Stored(
        stream="ONE_INGEST",
        seq=7,
        records=(OutcomeRecord(collection="events", id="e", effect="created"),),
    )
    assert json.loads(stored.model_dump_json(exclude_none=True)) == {
        "stream": "ONE_INGEST",
        "seq": 7,
        "status": "stored",
        "records": [{"collection": "events", "id": "e", "effect": "created"}],
        "duplicate": False,
    }


TARGETS = st.one_of(
    st.text(max_size=300),
    st.builds(lambda rest: "_INBOX." + rest, st.text(max_size=300)),
    st.builds(
        lambda tenant, rest: f"_INBOX_TENANT.{tenant}.{rest}",
        st.sampled_from(["acme", "beta", "", "*", ">"]),
        st.text(max_size=40),
    ),
)


@given(target=TARGETS)
async def test_any_target_is_answered_only_if_it_is_an_inbox_of_the_asking_tenant(
    target: str,
) -> None:
    """Hostile `One-Outcome-To` values: whatever the text, an answer goes only to a
    concrete subject inside an inbox, never to another tenant's inbox; the rest is
    counted as refused."""
    answers = Answers([])
    registry = CollectorRegistry()
    replies = OutcomeReplies(cast(NatsClient, answers), registry, plain_inbox=True)
    msg = login(1, "e1")  # tenant acme
    msg.headers = {OUTCOME_TO_HEADER: target}
    await replies.stored(cast(Msg, msg), [])
    refused = registry.get_sample_value("one_bus_ingest_outcomes_total", {"result": "refused"})
    if answers.sent:
        [(subject, _)] = answers.sent
        assert subject == target
        assert target.startswith("_INBOX")
        assert not target.startswith("_INBOX_TENANT.") or target.startswith("_INBOX_TENANT.acme.")
        assert len(target) <= 256
        assert not any(c.isspace() or c in "*>" for c in target)
        assert refused in (None, 0.0)
    else:
        assert refused == 1.0
