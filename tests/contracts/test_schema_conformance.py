"""The exported schemas say exactly what the service accepts.

Checked against the files `one-bus schema export` writes, with `jsonschema` (2020-12,
format checking), not with the models they were generated from. Every valid sample (each
consolidated variant, every protocol sample the mappings are tested with) passes both;
every documented-invalid input is refused by both, and the few rules JSON Schema cannot
state (BEYOND_SCHEMA, also said in the schemas' descriptions) are refused by the service
while the schema lets them through. The changes, replies, pushes and dead letters the
running service sends are checked in tests/services/test_schema_conformance.py.
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry

from contracts.command_kinds import COMMAND_KINDS
from contracts.dead_letters import DEAD_LETTER_REASONS
from contracts.metadata_rules import CONNECTION_VARIANTS, EVENT_VARIANTS
from contracts.ontology import LIFECYCLE_EVENT_TYPES
from contracts.outcomes import EFFECTS, OUTCOME, OUTCOME_TO_HEADER, OutcomeRecord, valid_target
from contracts.protocols.envelope import HEADER_ACTOR_ID, HEADER_RECORD_ID
from contracts.queries import QUERY_MODELS
from contracts.subjects import parse_ingest_subject, protocol_subject
from contracts.watches import WATCH_MODELS
from services.ingest.decode import decode
from services.ingest.input_limits import InputLimits
from services.ingest.outcomes import OutcomeReplies
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.security.reply_guard import may_reply
from tests.contracts.exported import Exported, export
from tests.contracts.protocols import test_a2a, test_acp, test_ag_ui, test_ap2, test_x402
from tests.contracts.protocols.sample_files import SAMPLES
from tests.contracts.test_metadata_rules import (
    INVALID_CONNECTIONS,
    INVALID_EVENTS,
    VALID_CONNECTIONS,
    VALID_EVENTS,
)
from tests.services.ingest.test_batch_policy import FakeMsg

TENANT = "acme"
RECEIVED_MS = 2_000_000_000_000
LIMITS = InputLimits(max_payload_bytes=1024 * 1024)
INBOX = "_INBOX.conformance.1"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    directory = tmp_path_factory.mktemp("exported")
    export(directory)
    return Exported(directory)


def ingest_schema(subject: str) -> str:
    parsed = parse_ingest_subject(subject)
    return f"{parsed.kind}.{parsed.op}" if parsed.op else parsed.kind


def service_accepts(subject: str, payload: Any) -> bool:
    raw = RawMessage(subject, json.dumps(payload).encode(), 1, RECEIVED_MS)
    return isinstance(decode(raw, LIMITS), tuple)


def request_accepted(kind: str, name: str, payload: Any) -> bool:
    """What the query or watch responder decides before it reads anything."""
    models = QUERY_MODELS if kind == "query" else WATCH_MODELS
    try:
        request = models[name].model_validate_json(json.dumps(payload))
    except ValueError:
        return False
    if kind == "query":
        return True
    deliver_to = getattr(request, "deliverTo")  # noqa: B009 (a field of the subclass)
    # The open layout's rule: plain inboxes allowed, as `dev` answers them.
    return may_reply(TENANT, deliver_to, plain_inbox=True)


def upsert(**extra: Any) -> dict[str, Any]:
    return {"id": "e1", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u", **extra}


def connection(relationship: str, metadata: Any = None, **extra: Any) -> dict[str, Any]:
    body = {"id": "c1", "fromEntityId": "a", "toEntityId": "b", "relationshipType": relationship}
    return {**body, **({"metadata": metadata} if metadata is not None else {}), **extra}


def event(event_type: str, metadata: Any, **extra: Any) -> dict[str, Any]:
    return {"id": "v1", "type": event_type, "actorId": "a", "timestamp": 1, "metadata": metadata,
            **extra}  # fmt: skip


def on(kind: str, type_: str | None = None, op: str | None = None) -> str:
    return ".".join(t for t in ("one.v1", TENANT, kind, type_, op) if t)


VALID_INGEST: list[tuple[str, Any]] = [
    (on("entities", "creator", "upsert"), upsert()),
    (on("entities", "creator", "upsert"), upsert(properties={"level": 3, "nested": {"a": [1]}})),
    (on("entities", "creator", "upsert"), upsert(status="draft", createdAt=0, groupId=TENANT)),
    (on("entities", "creator", "delete"), {"id": "e1", "updatedAt": 2, "actorId": "u"}),
    (on("entities", "creator", "archive"), {"id": "e1", "updatedAt": 2, "actorId": "u"}),
    (on("connections", "owns", "create"), connection("owns")),
    (on("connections", "owns", "create"), connection("owns", {"since": 2020, "protocol": "A2A"})),
    (on("connections", "owns", "delete"), {"id": "c1"}),
    (on("connections", "owns", "delete"), {"id": "c1", "updatedAt": 3}),
    (on("tags", op="set"), {"entityId": "e1", "key": "topic", "value": "ai"}),
    (on("tags", op="delete"), {"entityId": "e1", "key": "topic", "value": ""}),
    (on("events", "user_login"), event("user_login", {"ip": "10.0.0.1"})),
    (on("events", "user_login"), event("user_login", {}, targetId="t", groupId=TENANT)),
    *[(on("connections", t, "create"), connection(t, m)) for t, m in VALID_CONNECTIONS],
    *[(on("events", t), event(t, m)) for t, m in VALID_EVENTS],
    # Labels and protocol names are stripped of surrounding whitespace before their checks.
    (
        on("connections", "notified", "create"),
        connection("notified", {"channel": "sms", "notificationType": " " + "x" * 128 + "\n"}),
    ),
    (
        on("connections", "transacted", "create"),
        connection("transacted", {"transactionType": "payment", "protocol": " X402 "}),
    ),
    # A known protocol's payload with its message type (validated as that protocol's).
    (
        on("events", "communication_event"),
        event(
            "communication_event",
            {
                "protocol": "ag-ui",
                "messageType": "RUN_STARTED",
                "payload": {"type": "RUN_STARTED", "threadId": "t", "runId": "r"},
            },
        ),
    ),
]

# (subject, payload): both the schema and the service refuse it.
INVALID_INGEST: list[tuple[str, Any]] = [
    (on("entities", "creator", "upsert"), upsert(type="wizard")),
    (on("entities", "creator", "upsert"), upsert(updatedAt="yesterday")),
    (on("entities", "creator", "upsert"), upsert(surprise=1)),
    (on("entities", "creator", "upsert"), upsert(id="")),
    (on("entities", "creator", "upsert"), upsert(id="has space")),
    (on("entities", "creator", "upsert"), upsert(name="")),
    (on("entities", "creator", "upsert"), upsert(updatedAt=-1)),
    (on("entities", "creator", "upsert"), upsert(updatedAt=2**53)),
    (on("entities", "creator", "upsert"), upsert(properties={"$where": "1"})),
    (on("entities", "creator", "upsert"), upsert(properties={"a\x00b": 1})),
    (on("entities", "creator", "upsert"), upsert(properties=[])),
    (on("entities", "creator", "upsert"), upsert(status="gone")),
    (on("entities", "creator", "upsert"), upsert(groupId="not a tenant")),
    (on("entities", "creator", "delete"), {"id": "e1", "updatedAt": 2}),
    (on("connections", "owns", "create"), connection("owns", toEntityId=None)),
    (on("connections", "owns", "create"), connection("owns", ["not", "an", "object"])),
    (on("connections", "owns", "create"), connection("owns", {"protocol": "has space"})),
    (on("connections", "owns", "create"), connection("owns", {"protocol": 42})),
    (
        on("connections", "notified", "create"),
        connection("notified", {"channel": "sms", "notificationType": "  \t "}),
    ),
    (
        on("connections", "notified", "create"),
        connection("notified", {"channel": "sms", "notificationType": "x" * 129}),
    ),
    (on("connections", "transacted", "create"), connection("transacted")),
    (on("connections", "transacted", "create"), connection("transacted", metadata=None)),
    (on("connections", "owns", "delete"), {"id": "c1", "fromEntityId": "a"}),
    (on("tags", op="set"), {"entityId": "e1", "key": "", "value": "x"}),
    (on("tags", op="set"), {"entityId": "e1", "key": "k", "value": "x" * 1025}),
    (on("tags", op="set"), {"entityId": "e1", "key": "k"}),
    (on("events", "user_login"), event("user_login", None)),
    (
        on("events", "user_login"),
        {k: v for k, v in event("user_login", {}).items() if k != "metadata"},
    ),
    (on("events", "payment_event"), event("payment_event", {"status": "bogus"})),
    *[(on("events", t), event(t, {"entityType": "creator"})) for t in LIFECYCLE_EVENT_TYPES],
    *[(on("connections", t, "create"), connection(t, m)) for t, m in INVALID_CONNECTIONS],
    *[(on("events", t), event(t, m)) for t, m in INVALID_EVENTS],
    (on("connections", "transacted", "create"), connection("transacted", {"x": 1})),
    (on("events", "livestream_event"), event("livestream_event", {"status": None})),
    (
        on("events", "communication_event"),
        event("communication_event", {"protocol": "A2A", "payload": {"kind": "message"}}),
    ),
    (
        on("events", "communication_event"),
        event("communication_event", {"protocol": "a2a", "messageType": "Message", "payload": 1}),
    ),
]

# Rules JSON Schema cannot state: the schema accepts these, the service refuses them (the
# schemas' descriptions say so). (subject, payload, the rule)
BEYOND_SCHEMA: list[tuple[str, Any, str]] = [
    (on("entities", "creator", "upsert"), upsert(groupId="other"), "groupId is the subject's"),
    (on("entities", "video", "upsert"), upsert(), "the type is the subject's"),
    (on("entities", "creator", "upsert"), upsert(updatedAt=RECEIVED_MS + 10**10), "clock skew"),
    (on("entities", "creator", "upsert"), upsert(updatedAt=1.0), "1.0 is not an integer"),
    (on("entities", "creator", "upsert"), upsert(properties={"a": {"$b": 1}}), "nested `$`"),
    (on("entities", "creator", "upsert"), upsert(properties={"big": 2**63}), "64-bit integers"),
    (
        on("events", "communication_event"),
        event(
            "communication_event",
            {"protocol": "a2a", "messageType": "Message", "payload": {"kind": "message"}},
        ),
        "a known protocol's payload is valid for it",
    ),
]


@pytest.mark.parametrize(("subject", "payload"), VALID_INGEST)
def test_valid_payloads_pass_the_schema_and_the_service(
    exported: Exported, subject: str, payload: Any
) -> None:
    assert service_accepts(subject, payload)
    assert exported.errors(ingest_schema(subject), payload) == []


@pytest.mark.parametrize(("subject", "payload"), INVALID_INGEST)
def test_invalid_payloads_fail_the_schema_and_the_service(
    exported: Exported, subject: str, payload: Any
) -> None:
    assert not service_accepts(subject, payload)
    assert exported.errors(ingest_schema(subject), payload) != []


@pytest.mark.parametrize(("subject", "payload", "rule"), BEYOND_SCHEMA)
def test_rules_beyond_json_schema_are_the_service_s_alone(
    exported: Exported, subject: str, payload: Any, rule: str
) -> None:
    assert not service_accepts(subject, payload), rule
    assert exported.errors(ingest_schema(subject), payload) == [], rule


def test_every_consolidated_variant_is_covered() -> None:
    assert {t for t, _ in VALID_CONNECTIONS} == set(CONNECTION_VARIANTS)
    assert {t for t, _ in VALID_EVENTS} == set(EVENT_VARIANTS)
    assert {ingest_schema(subject) for subject, _ in VALID_INGEST} == {
        kind.name for kind in COMMAND_KINDS
    }


PROTOCOL_SAMPLES = [
    (module.PROTOCOL, name, expected.message_type)
    for module in (test_a2a, test_acp, test_ag_ui, test_ap2, test_x402)
    for name, expected in module.GOOD.items()
]


@pytest.mark.parametrize(("protocol", "name", "message_type"), PROTOCOL_SAMPLES)
def test_what_every_protocol_sample_becomes_passes_the_schemas(
    exported: Exported, protocol: str, name: str, message_type: str
) -> None:
    subject = protocol_subject(TENANT, protocol, message_type)
    headers = {HEADER_RECORD_ID: "msg-1", HEADER_ACTOR_ID: "agent-1"}
    raw = RawMessage(subject, (SAMPLES / protocol / name).read_bytes(), 1, RECEIVED_MS, headers)
    requests = decode(raw, LIMITS)
    assert isinstance(requests, tuple), requests
    for request in requests:
        payload = request.command.model_dump(mode="json", exclude_none=True)
        kind = "events" if "timestamp" in payload else "connections.create"
        assert exported.errors(kind, payload) == [], (name, payload)
        assert service_accepts(
            on("events", payload["type"]) if kind == "events"
            else on("connections", payload["relationshipType"], "create"),
            payload,
        )  # fmt: skip


def test_the_samples_cover_every_protocol() -> None:
    assert {protocol for protocol, _, _ in PROTOCOL_SAMPLES} == {
        path.name for path in Path(SAMPLES).iterdir() if path.is_dir()
    }


ENTITY = {"id": "e1", "groupId": TENANT, "type": "creator", "name": "Ada", "properties": {},
          "createdAt": 1, "updatedAt": 1}  # fmt: skip

# (query name, request, whether the service accepts it)
QUERIES: list[tuple[str, Any, bool]] = [
    ("entities.get", {"id": "e1"}, True),
    ("entities.get", {"ids": ["e1", "e2"]}, True),
    ("entities.get", {"id": "e1", "ids": None, "type": "creator"}, True),
    ("entities.get", {}, False),
    ("entities.get", {"id": "e1", "ids": ["e2"]}, False),
    ("entities.get", {"id": None, "ids": None}, False),
    ("entities.get", {"id": {"$gt": ""}}, False),
    ("entities.get", {"ids": []}, False),
    ("entities.list", {"properties": {"level": "beginner", "n": 3, "ok": True}}, True),
    ("entities.list", {"properties": {"$or": [{"a": 1}]}}, False),
    ("entities.list", {"properties": {"a.b": 1}}, False),
    ("entities.list", {"properties": {"a": {"$gt": 1}}}, False),
    ("entities.list", {"properties": {"a": [1]}}, False),
    ("entities.list", {"properties": {f"k{i}": i for i in range(17)}}, False),
    ("entities.list", {"limit": 0}, False),
    ("entities.list", {"limit": 501}, False),
    ("entities.list", {"orderBy": "name"}, False),
    ("entities.list", {"limit": "10"}, False),
    ("entities.search", {"text": "ada lovelace"}, True),
    ("entities.search", {"text": ""}, False),
    ("connections.list", {"fromEntityId": "a"}, True),
    ("connections.list", {"toEntityId": "b", "fromEntityId": None}, True),
    ("connections.list", {}, False),
    ("connections.list", {"fromEntityId": None, "toEntityId": None}, False),
    ("connections.list", {"fromEntityId": "a", "protocol": "has space"}, False),
    ("events.list", {"metadata": {"status": "processed", "protocol": "AP2"}}, True),
    ("events.list", {"metadata": {"$where": {"$gt": ""}}}, False),
    ("events.list", {"metadata": {"$where": "1"}}, False),
    ("events.list", {"metadata": {"a.b": "x"}}, False),
    ("events.list", {"type": "wizard_event"}, False),
    ("tags.list", {"entityId": "e1"}, True),
    ("tags.list", {"key": "topic", "value": "ai"}, True),
    ("tags.list", {"key": "topic", "entityId": None}, True),
    ("tags.list", {}, False),
    ("tags.list", {"entityId": "e1", "key": "topic"}, False),
    ("tags.list", {"entityId": "e1", "value": "ai"}, False),
    ("tags.list", {"value": "ai"}, False),
    ("graph.traverse", {"startId": "a", "direction": "out", "depth": 2}, True),
    ("graph.traverse", {"startId": "a", "direction": "up", "depth": 2}, False),
    ("graph.traverse", {"startId": "a", "direction": "out", "depth": 4}, False),
    (
        "graph.traverse",
        {"startId": "a", "direction": "out", "depth": 1, "relationshipTypes": []},
        False,
    ),
    *[
        ("stats.counts", {"collection": collection, "groupBy": field}, ok)
        for collection, field, ok in (
            ("entities", "type", True),
            ("entities", "status", True),
            ("connections", "relationshipType", True),
            ("events", "type", True),
            ("tags", "key", True),
            ("tags", "type", False),
            ("events", "status", False),
            ("connections", "type", False),
            ("entities", "name", False),
        )
    ],
    ("stats.counts", {"collection": "users", "groupBy": "type"}, False),
]

# Beyond JSON Schema for queries: (name, request, the rule).
QUERIES_BEYOND_SCHEMA: list[tuple[str, Any, str]] = [
    ("entities.search", {"text": "!!! ..."}, "text with no letters or digits"),
    ("entities.search", {"text": " ".join(f"w{i}" for i in range(9))}, "too many words"),
    ("events.list", {"metadata": {"note": "\ud800"}}, "a lone surrogate"),
]

WATCHES: list[tuple[str, Any, bool]] = [
    ("entities.list", {"type": "creator", "limit": 10, "deliverTo": INBOX}, True),
    ("entities.list", {"deliverTo": INBOX, "cursor": "abc"}, False),
    ("entities.list", {"deliverTo": INBOX, "cursor": None}, False),
    ("entities.list", {"type": "creator"}, False),
    ("entities.list", {"deliverTo": "a.*"}, False),
    ("entities.list", {"deliverTo": "a..b"}, False),
    ("entities.get", {"id": "e1", "deliverTo": INBOX}, True),
    ("entities.get", {"deliverTo": INBOX}, False),
    ("connections.list", {"deliverTo": INBOX}, False),
    ("tags.list", {"deliverTo": INBOX, "entityId": "e1", "key": "k"}, False),
    ("events.list", {"deliverTo": INBOX, "metadata": {"$where": "1"}}, False),
]

WATCHES_BEYOND_SCHEMA: list[tuple[str, Any, str]] = [
    ("entities.list", {"deliverTo": "one.v1.acme.entities.creator.upsert"}, "not an inbox"),
]


@pytest.mark.parametrize(("name", "request_", "accepted"), QUERIES)
def test_query_requests_pass_the_schema_exactly_when_the_service_takes_them(
    exported: Exported, name: str, request_: Any, accepted: bool
) -> None:
    assert request_accepted("query", name, request_) is accepted
    assert (exported.errors(f"query.{name}.request", request_) == []) is accepted


@pytest.mark.parametrize(("name", "request_", "accepted"), WATCHES)
def test_watch_requests_pass_the_schema_exactly_when_the_service_takes_them(
    exported: Exported, name: str, request_: Any, accepted: bool
) -> None:
    assert request_accepted("watch", name, request_) is accepted
    assert (exported.errors(f"watch.{name}.request", request_) == []) is accepted


@pytest.mark.parametrize(
    ("kind", "name", "request_", "rule"),
    [("query", *case) for case in QUERIES_BEYOND_SCHEMA]
    + [("watch", *case) for case in WATCHES_BEYOND_SCHEMA],
)
def test_request_rules_beyond_json_schema_are_the_service_s_alone(
    exported: Exported, kind: str, name: str, request_: Any, rule: str
) -> None:
    assert not request_accepted(kind, name, request_), rule
    assert exported.errors(f"{kind}.{name}.request", request_) == [], rule


def test_each_rule_beyond_json_schema_is_said_in_the_schema(exported: Exported) -> None:
    for name in ("entities.upsert", "connections.create", "events"):
        description = exported.schemas[name]["description"]
        assert "beyond this schema" in description
        assert "clock skew" in description
        assert "subject" in description
    assert "letter or digit" in exported.schemas["query.entities.search.request"]["description"]
    cursor = exported.schemas["query.entities.list.request"]["properties"]["cursor"]
    assert "issued" in cursor["anyOf"][0]["description"]
    deliver_to = exported.schemas["watch.entities.list.request"]["properties"]["deliverTo"]
    assert "inbox" in deliver_to["description"]


# `after` (read-your-writes) on queries and watches alike: (kind, name, request, accepted).
AFTER: list[tuple[str, str, Any, bool]] = [
    *[(kind, "entities.get", {"id": "e1", "after": 42}, True) for kind in ("query", "watch")],
    ("query", "tags.list", {"entityId": "e1", "after": 2**63 - 1}, True),
    ("watch", "tags.list", {"entityId": "e1", "after": 1, "deliverTo": INBOX}, True),
    ("watch", "entities.list", {"deliverTo": INBOX, "after": None}, True),
    *[
        (kind, "entities.get", {"id": "e1", "after": after}, False)
        for kind in ("query", "watch")
        # Past int64 by more than a double rounds away, so ajv (JS numbers) agrees.
        for after in (0, -1, 2**64, "42", 1.5, True)
    ],
]


def with_deliver_to(kind: str, request_: dict[str, Any]) -> dict[str, Any]:
    return {"deliverTo": INBOX, **request_} if kind == "watch" else request_


@pytest.mark.parametrize(("kind", "name", "request_", "accepted"), AFTER)
def test_after_passes_query_and_watch_schemas_exactly_when_the_service_takes_it(
    exported: Exported, kind: str, name: str, request_: Any, accepted: bool
) -> None:
    request_ = with_deliver_to(kind, request_)
    assert request_accepted(kind, name, request_) is accepted
    assert (exported.errors(f"{kind}.{name}.request", request_) == []) is accepted


def test_every_query_and_watch_request_schema_says_what_after_means(exported: Exported) -> None:
    names = [f"query.{n}.request" for n in QUERY_MODELS]
    names += [f"watch.{n}.request" for n in WATCH_MODELS]
    for name in names:
        after = exported.schemas[name]["properties"]["after"]["anyOf"][0]
        assert (after["type"], after["minimum"]) == ("integer", 1), name
        assert "Read-your-writes" in after["description"], name
        assert "stored or dead-lettered" in after["description"], name


STORED = {"stream": "ONE_INGEST", "seq": 7, "status": "stored", "duplicate": False}
REJECTED = {"stream": "ONE_INGEST", "seq": 8, "status": "rejected", "code": "oversize",
            "message": "payload is 2000000 bytes"}  # fmt: skip


def record(effect: str, **extra: Any) -> dict[str, Any]:
    return {"collection": "entities", "id": "e1", "effect": effect} | extra


# (an answer at a `One-Outcome-To` inbox, whether the contract's OUTCOME takes it)
OUTCOMES: list[tuple[Any, bool]] = [
    *[({**STORED, "records": [record(effect)]}, True) for effect in EFFECTS],
    ({**STORED, "records": [record("updated", version="0001.00000000000000000042")]}, True),
    ({**STORED, "records": [record("created", collection="tags", key="k", value="v")]}, True),
    ({**STORED, "records": [record("created"), record("created", collection="events")]}, True),
    ({**STORED, "records": []}, True),
    ({**STORED, "duplicate": True}, True),
    *[({**REJECTED, "code": code}, True) for code in DEAD_LETTER_REASONS],
    ({k: v for k, v in STORED.items() if k != "status"}, False),
    ({**STORED, "status": "maybe"}, False),
    ({**STORED, "records": [record("vanished")]}, False),
    ({**STORED, "records": [record("created", surprise=1)]}, False),
    ({**STORED, "records": [{"collection": "users", "id": "e1", "effect": "created"}]}, False),
    ({**STORED, "seq": -1}, False),
    ({**STORED, "seq": "7"}, False),
    ({**STORED, "code": "oversize"}, False),
    ({**REJECTED, "code": "bogus"}, False),
    ({k: v for k, v in REJECTED.items() if k != "message"}, False),
    ({**REJECTED, "status": "stored"}, False),
    ({**REJECTED, "records": []}, False),
    ([STORED], False),
    (None, False),
]


def outcome_accepted(answer: Any) -> bool:
    try:
        OUTCOME.validate_json(json.dumps(answer))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("answer", "accepted"), OUTCOMES)
def test_outcomes_pass_the_schema_and_asyncapi_exactly_when_the_contract_takes_them(
    exported: Exported, answer: Any, accepted: bool
) -> None:
    assert outcome_accepted(answer) is accepted
    assert (exported.errors("outcome", answer) == []) is accepted
    fits = exported.fits(exported.channel_messages("outcomes"), answer, None)
    assert len(fits) == (1 if accepted else 0), fits
    if accepted:
        assert fits == [f"outcome{answer['status'].capitalize()}"]
        assert exported.errors(f"outcome.{answer['status']}", answer) == []


class Published:
    """The NATS connection outcomes leave on, keeping each body as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes) -> None:
        self.sent.append((subject, payload))


def sent_outcomes() -> list[tuple[str, Any]]:
    """What ingest's OutcomeReplies publishes for every effect and every rejection code,
    byte for byte (the live service's are checked in tests/services/)."""
    published = Published()
    replies = OutcomeReplies(cast(NatsClient, published), CollectorRegistry(), plain_inbox=True)
    asking = {OUTCOME_TO_HEADER: INBOX}

    async def answer_all() -> None:
        for seq, effect in enumerate(EFFECTS, start=1):
            msg = FakeMsg(on("entities", "creator", "upsert"), b"{}", seq, headers=asking)
            records = [OutcomeRecord(collection="entities", id="e1", effect=effect,
                                     version="0000000000001.00000000000000000001")]  # fmt: skip
            if effect == "created":
                records.append(
                    OutcomeRecord(collection="tags", id="e1", effect=effect, key="k", value="v")
                )
            await replies.stored(cast(Msg, msg), records)
        for seq, code in enumerate(DEAD_LETTER_REASONS, start=100):
            msg = FakeMsg(on("events", "user_login"), b"{}", seq, headers=asking)
            await replies.rejected(cast(Msg, msg), Rejection(code, f"refused: {code}"))

    asyncio.run(answer_all())
    return [(subject, json.loads(body)) for subject, body in published.sent]


def test_every_outcome_ingest_sends_passes_the_schema_and_its_asyncapi_message(
    exported: Exported,
) -> None:
    sent = sent_outcomes()
    assert len(sent) == len(EFFECTS) + len(DEAD_LETTER_REASONS)
    for subject, answer in sent:
        assert subject == INBOX
        assert exported.errors("outcome", answer) == [], answer
        assert exported.errors(f"outcome.{answer['status']}", answer) == [], answer
        assert exported.fits(exported.channel_messages("outcomes"), answer, None) == [
            f"outcome{answer['status'].capitalize()}"
        ]
    effects = {r["effect"] for _, a in sent if a["status"] == "stored" for r in a["records"]}
    assert effects == set(EFFECTS)
    assert {a["code"] for _, a in sent if a["status"] == "rejected"} == set(DEAD_LETTER_REASONS)


# (One-Outcome-To, whether ingest would answer there on an open server)
OUTCOME_TARGETS: list[tuple[str, bool]] = [
    (INBOX, True),
    ("_INBOX_TENANT.acme.pub.x1", True),
    ("_INBOX.*", False),
    ("_INBOX.>", False),
    ("_INBOX..x", False),
    ("_INBOX.a b", False),
    ("_INBOX." + "x" * 250, False),
]


# Whose inbox it is, is the service's reply rule alone (the header's description says so):
# the schema lets these through, ingest answers none of them.
OUTCOME_TARGETS_BEYOND_SCHEMA: list[str] = [
    "_INBOX_TENANT.beta.pub.x1",
    "one.v1.acme.entities.creator.upsert",
]


def ingest_headers_accept(exported: Exported, target: str) -> list[bool]:
    """Whether each ingest message's headers schema takes `One-Outcome-To: target`."""
    headers = {HEADER_RECORD_ID: "msg-1", HEADER_ACTOR_ID: "agent-1", OUTCOME_TO_HEADER: target}
    channels = ("entityCommands", "connectionCommands", "tagCommands", "events", "protocolMessages")
    messages = [m for name in channels for m in exported.channel_messages(name)]
    assert len(messages) == len(COMMAND_KINDS) + 1
    return [exported.message(message, "headers").is_valid(headers) for message in messages]


def answered_at(target: str) -> bool:
    """Whether ingest answers at `target` for a message of TENANT (the open layout)."""
    return valid_target(target) and may_reply(TENANT, target, plain_inbox=True)


@pytest.mark.parametrize(("target", "answered"), OUTCOME_TARGETS)
def test_every_ingest_message_may_carry_one_outcome_to_as_its_headers_schema_says(
    exported: Exported, target: str, answered: bool
) -> None:
    assert answered_at(target) is answered
    assert set(ingest_headers_accept(exported, target)) == {answered}


@pytest.mark.parametrize("target", OUTCOME_TARGETS_BEYOND_SCHEMA)
def test_whose_inbox_an_outcome_goes_to_is_the_service_s_rule_alone(
    exported: Exported, target: str
) -> None:
    assert not answered_at(target)
    assert set(ingest_headers_accept(exported, target)) == {True}
    description = exported.asyncapi["components"]["messages"]["entityUpsert"]["headers"][
        "properties"
    ][OUTCOME_TO_HEADER]["description"]
    assert "beyond this schema" in description


AJV_DIR = Path(__file__).resolve().parents[2] / ".cache" / "ajv"
AJV_SCRIPT = Path(__file__).with_name("ajv_check.js")
AJV_PACKAGES = ("ajv@8.17.1", "ajv-formats@3.0.1")


@pytest.fixture(scope="session")
def ajv() -> Path:
    """ajv (pinned) installed into `.cache/` once; kept between runs."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run ajv")
    modules = AJV_DIR / "node_modules"
    if not (modules / "ajv" / "dist" / "2020.js").is_file():
        AJV_DIR.mkdir(parents=True, exist_ok=True)
        # A failed install fails the test: CI has npm and the registry, so it must work.
        subprocess.run(
            [npm, "install", "--prefix", str(AJV_DIR), "--no-audit", "--no-fund", "--no-save",
             *AJV_PACKAGES],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    return modules


def test_ajv_in_strict_mode_compiles_every_schema_and_agrees_on_every_case(
    ajv: Path, exported: Exported, tmp_path: Path
) -> None:
    cases: list[tuple[str, Any, bool]] = [
        *[(ingest_schema(s), p, True) for s, p in VALID_INGEST],
        *[(ingest_schema(s), p, False) for s, p in INVALID_INGEST],
        *[(ingest_schema(s), p, True) for s, p, _ in BEYOND_SCHEMA],
        *[(f"query.{n}.request", r, ok) for n, r, ok in QUERIES],
        *[(f"watch.{n}.request", r, ok) for n, r, ok in WATCHES],
        *[(f"query.{n}.request", r, True) for n, r, _ in QUERIES_BEYOND_SCHEMA],
        *[(f"watch.{n}.request", r, True) for n, r, _ in WATCHES_BEYOND_SCHEMA],
        *[(f"{k}.{n}.request", with_deliver_to(k, r), ok) for k, n, r, ok in AFTER],
        *[("outcome", answer, ok) for answer, ok in OUTCOMES],
        *[(f"outcome.{answer['status']}", answer, True) for _, answer in sent_outcomes()],
    ]
    path = tmp_path / "cases.json"
    path.write_text(
        json.dumps({
            "schemas": list(exported.schemas.values()),
            "cases": [{"schema": exported.schemas[s]["$id"], "instance": i} for s, i, _ in cases],
        })
    )  # fmt: skip
    ran = subprocess.run(
        ["node", str(AJV_SCRIPT), str(path)],
        env={**os.environ, "NODE_PATH": str(ajv)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    verdicts = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(verdicts) == len(cases)
    disagree = [
        (schema, instance, verdict["errors"])
        for (schema, instance, expected), verdict in zip(cases, verdicts, strict=True)
        if verdict["valid"] is not expected
    ]
    assert disagree == []
