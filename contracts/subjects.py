"""Building and parsing ONE Bus subjects (README "Subjects"), and the names of the streams,
buckets and NATS API subjects the bus uses: the one place any of them is spelled.

Every subject is `one.v1.<tenant>.<kind>...`; the tenant token becomes `groupId`. Where a
builder takes a tenant, `ALL_TENANTS` (`*`) makes it the wildcard across tenants.
"""

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from contracts.ontology import CONNECTION_TYPES, ENTITY_TYPES, EVENT_TYPES

PREFIX: Final = "one.v1"
ALL_TENANTS: Final = "*"
# Every subject of the bus, whatever its tenant and kind.
ALL_SUBJECTS: Final = f"{PREFIX}.>"
TENANT_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A protocol or message-type token: one NATS token, nothing that needs escaping.
TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

IngestKind = Literal["entities", "connections", "tags", "events", "protocols"]
INGEST_KINDS: Final[tuple[str, ...]] = get_args(IngestKind)
EntityOp = Literal["upsert", "delete", "archive"]
ConnectionOp = Literal["create", "delete"]
TagOp = Literal["set", "delete"]

ENTITY_OPS: Final[tuple[str, ...]] = get_args(EntityOp)
CONNECTION_OPS: Final[tuple[str, ...]] = get_args(ConnectionOp)
TAG_OPS: Final[tuple[str, ...]] = get_args(TagOp)


class SubjectError(ValueError):
    """The subject does not name a valid ONE Bus destination."""


@dataclass(frozen=True, slots=True)
class IngestSubject:
    """A parsed ingest subject.

    `type` is the entity, relationship or event type (the protocol for `protocols`);
    `op` is the operation (the message type for `protocols`; None for events).
    """

    tenant: str
    kind: IngestKind
    type: str | None
    op: str | None


def is_tenant(token: str) -> bool:
    return TENANT_RE.fullmatch(token) is not None


def tenant_of(subject: str) -> str | None:
    """The tenant of a `one.v1.<tenant>.…` subject; None if the subject names none."""
    tokens = subject.split(".", 3)
    if len(tokens) < 4 or ".".join(tokens[:2]) != PREFIX or not is_tenant(tokens[2]):
        return None
    return tokens[2]


def _expect(condition: bool, subject: str, why: str) -> None:
    if not condition:
        raise SubjectError(f"{subject!r}: {why}")


def parse_ingest_subject(subject: str) -> IngestSubject:
    """Parse a subject a publisher sent; raise SubjectError if it names nothing valid."""
    tokens = subject.split(".")
    _expect(len(tokens) >= 4 and ".".join(tokens[:2]) == PREFIX, subject, f"not under {PREFIX}.")
    tenant, kind, rest = tokens[2], tokens[3], tokens[4:]
    _expect(is_tenant(tenant), subject, "tenant must match [A-Za-z0-9_-]{1,64}")
    if kind == "entities":
        _expect(len(rest) == 2, subject, "expected entities.<entityType>.<op>")
        _expect(rest[0] in ENTITY_TYPES, subject, f"unknown entity type {rest[0]!r}")
        _expect(rest[1] in ENTITY_OPS, subject, f"entity op must be one of {ENTITY_OPS}")
        return IngestSubject(tenant, "entities", rest[0], rest[1])
    if kind == "connections":
        _expect(len(rest) == 2, subject, "expected connections.<relationshipType>.<op>")
        _expect(rest[0] in CONNECTION_TYPES, subject, f"unknown relationship type {rest[0]!r}")
        _expect(
            rest[1] in CONNECTION_OPS, subject, f"connection op must be one of {CONNECTION_OPS}"
        )
        return IngestSubject(tenant, "connections", rest[0], rest[1])
    if kind == "tags":
        _expect(len(rest) == 1, subject, "expected tags.<op>")
        _expect(rest[0] in TAG_OPS, subject, f"tag op must be one of {TAG_OPS}")
        return IngestSubject(tenant, "tags", None, rest[0])
    if kind == "events":
        _expect(len(rest) == 1, subject, "expected events.<eventType>")
        _expect(rest[0] in EVENT_TYPES, subject, f"unknown event type {rest[0]!r}")
        return IngestSubject(tenant, "events", rest[0], None)
    if kind == "protocols":
        _expect(len(rest) == 2, subject, "expected protocols.<protocol>.<messageType>")
        _expect(all(TOKEN_RE.fullmatch(t) for t in rest), subject, "bad protocol token")
        return IngestSubject(tenant, "protocols", rest[0].lower(), rest[1])
    raise SubjectError(f"{subject!r}: unknown kind {kind!r}; expected one of {INGEST_KINDS}")


def entity_subject(tenant: str, entity_type: str, op: EntityOp) -> str:
    return f"{PREFIX}.{tenant}.entities.{entity_type}.{op}"


def connection_subject(tenant: str, relationship_type: str, op: ConnectionOp) -> str:
    return f"{PREFIX}.{tenant}.connections.{relationship_type}.{op}"


def tag_subject(tenant: str, op: TagOp) -> str:
    return f"{PREFIX}.{tenant}.tags.{op}"


def event_subject(tenant: str, event_type: str) -> str:
    return f"{PREFIX}.{tenant}.events.{event_type}"


def protocol_subject(tenant: str, protocol: str, message_type: str) -> str:
    return f"{PREFIX}.{tenant}.protocols.{protocol}.{message_type}"


def query_subject(tenant: str, name: str) -> str:
    return f"{PREFIX}.{tenant}.query.{name}"


def change_subject(tenant: str, collection: str, type_token: str) -> str:
    return f"{PREFIX}.{tenant}.changes.{collection}.{type_token}"


def dlq_subject(tenant: str, source_kind: str) -> str:
    return f"{PREFIX}.{tenant}.dlq.{source_kind}"


def is_qualified(subject: str) -> bool:
    """Whether `subject` is a full one (`one.v1.…`) rather than one under a tenant."""
    return subject.startswith(PREFIX + ".")


def qualified(tenant: str, subject: str) -> str:
    """A subject as clients name it, made full: `entities.creator.upsert` under `tenant`
    (`one.v1.<tenant>.entities.creator.upsert`); a full subject stays as it is."""
    return subject if is_qualified(subject) else f"{PREFIX}.{tenant}.{subject}"


def tenant_wildcard(tenant: str) -> str:
    """`one.v1.<tenant>.>`: every subject of one tenant."""
    return f"{PREFIX}.{tenant}.>"


def kind_wildcard(tenant: str, kind: str) -> str:
    """`one.v1.<tenant>.<kind>.>`: one kind of subject (`changes`, `dlq`, `query`, an
    ingest kind, ...) of one tenant, or of every tenant with `ALL_TENANTS`."""
    return f"{PREFIX}.{tenant}.{kind}.>"


def tenant_prefix(tenant: str) -> str:
    """`one.v1.<tenant>.`: what every subject of the tenant starts with."""
    return f"{PREFIX}.{tenant}."


# Wildcards for declaring streams and subscribing across tenants.
INGEST_WILDCARDS: Final[tuple[str, ...]] = tuple(
    kind_wildcard(ALL_TENANTS, kind) for kind in INGEST_KINDS
)
QUERY_WILDCARD: Final = kind_wildcard(ALL_TENANTS, "query")
CHANGES_WILDCARD: Final = kind_wildcard(ALL_TENANTS, "changes")
DLQ_WILDCARD: Final = kind_wildcard(ALL_TENANTS, "dlq")


# Live queries (docs/watch.md): `watch.<query>` starts one, `watch.renew` / `watch.stop`
# keep or end it. Query names have a dot (`entities.list`), the two verbs none.
WATCH_RENEW: Final = "renew"
WATCH_STOP: Final = "stop"


def watch_subject(tenant: str, name: str) -> str:
    return f"{PREFIX}.{tenant}.watch.{name}"


WATCH_WILDCARD: Final = kind_wildcard(ALL_TENANTS, "watch")

RequestKind = Literal["query", "watch"]


def filter_tenant(subject: str) -> str | None:
    """The tenant a filter (`one.v1.<tenant>.changes.>`) is limited to; None if it spans
    tenants (`one.v1.*.…`) or is not one of ours."""
    tokens = subject.split(".", 3)
    if len(tokens) < 3 or ".".join(tokens[:2]) != PREFIX or not is_tenant(tokens[2]):
        return None
    return tokens[2]


def request_tenant(subject: str) -> str:
    """The tenant token of a request subject as it arrived on `one.v1.*.<kind>.>`, valid or
    not (whom an answer is for, decided before the request is looked at)."""
    tokens = subject.split(".", 3)
    return tokens[2] if len(tokens) > 2 and tokens[2] else subject


def parse_request_subject(subject: str, kind: RequestKind) -> tuple[str, str]:
    """`one.v1.<tenant>.<kind>.<name>` → (tenant, name); raise SubjectError if the subject
    is not one. The name is every token after the kind (`entities.get`)."""
    tokens = subject.split(".")
    _expect(
        len(tokens) >= 5 and ".".join(tokens[:2]) == PREFIX and tokens[3] == kind,
        subject,
        f"not a {kind} subject",
    )
    _expect(is_tenant(tokens[2]), subject, "tenant must match [A-Za-z0-9_-]{1,64}")
    return tokens[2], ".".join(tokens[4:])


# Streams and key-value buckets. The settings' defaults are these names; the secure
# layout's permissions grant them by name, so a deployment that renames one must keep the
# permissions in step.
INGEST_STREAM: Final = "ONE_INGEST"
CHANGES_STREAM: Final = "ONE_CHANGES"
DLQ_STREAM: Final = "ONE_DLQ"
STREAMS: Final = (INGEST_STREAM, CHANGES_STREAM, DLQ_STREAM)
# Ingest's durable on each tenant's own stream, and the stem of its lanes on the shared one.
INGEST_CONSUMER: Final = "one-bus-ingest"
# Live queries' records and the replicas' heartbeats (docs/watch.md).
WATCH_BUCKET: Final = "ONE_WATCHES"
# Per-tenant settings: key = tenant, value = TenantQuotas as JSON.
TENANTS_BUCKET: Final = "ONE_TENANTS"


def tenant_ingest_stream(base: str, tenant: str) -> str:
    """The ingest stream of `tenant` in the per-tenant layout (`ONE_INGEST_acme`): a
    tenant token is a valid stream-name suffix (`[A-Za-z0-9_-]`)."""
    return f"{base}_{tenant}"


# NATS's own subjects: the JetStream API, acks and flow control, KV buckets, and service
# discovery (ADR-32). Tokens are joined as given, wildcards included.
JS_API: Final = "$JS.API"
JS_FLOW_CONTROL_WILDCARD: Final = "$JS.FC.>"
SRV_WILDCARD: Final = "$SRV.>"


def js_api(*tokens: str) -> str:
    """`$JS.API.<tokens>`: `js_api("STREAM", "INFO", "ONE_INGEST")`."""
    return ".".join((JS_API, *tokens))


def js_ack(stream_and_consumer: str) -> str:
    """`$JS.ACK.<stream>.<consumer>.>`: the acks of a consumer's messages."""
    return f"$JS.ACK.{stream_and_consumer}.>"


def js_flow_control(stream: str) -> str:
    """`$JS.FC.<stream>.>`: flow-control answers of ordered consumers on `stream`."""
    return f"$JS.FC.{stream}.>"


def kv_stream(bucket: str) -> str:
    """The stream holding a KV bucket (`KV_ONE_WATCHES`)."""
    return f"KV_{bucket}"


def kv_subject(bucket: str, key: str) -> str:
    """`$KV.<bucket>.<key>`; `key` may be a wildcard (`>`), or empty for the prefix of
    every key's subject."""
    return f"$KV.{bucket}.{key}"


def srv_subject(verb: str, service: str) -> str:
    """`$SRV.<verb>.<service>`: a discovery request to every instance of one service."""
    return f"$SRV.{verb}.{service}"
