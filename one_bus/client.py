"""`OneClient`: publish ONE records, query them and follow what the bus stored.

One client speaks for one tenant over one NATS connection: `OneClient(spec)` takes the
tenant from a `ConnectionSpec` that names one (what `one-bus tenant add` issues), and
`OneClient("acme", url)` names it for an open server. Payloads are the contracts'
own models (commands, query requests, records), so what the client sends is validated
by the same code the service runs, before it leaves the process.

Message ids (`Nats-Msg-Id`, what JetStream deduplicates on within its window):

- events, connection creates and protocol messages use the record id: the same record
  published twice is one message;
- entity commands, connection deletes and tag commands get a new UUIDv7 per call (two
  upserts of one entity are two messages); pass `msg_id` to make your own retries
  across restarts idempotent too.

A publish the stream did not acknowledge in time is retried under the same id, so a
retry that crosses a lost acknowledgement is still stored once.

Outcomes and read-your-writes (docs/outcomes.md): every publish method takes `wait=True`
to wait until ingest has stored the write (`Published.outcome`) or dead-lettered it
(`RejectedError`). The client is a session: each read (query, watch) carries the sequence
of its latest write as `after`, so a read after a write sees it, waited for or not
(`read_your_writes=False` turns that off).
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError
from pydantic import BaseModel, TypeAdapter

from contracts.clock import now_ms
from contracts.command_kinds import command_kind
from contracts.commands import (
    AnyCommand,
    ConnectionCreate,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.connection_spec import ConnectionSpec
from contracts.errors import TIMEOUT_HEADER, ErrorReply
from contracts.ontology import Collection, ConnectionType, EntityStatus, EntityType, EventType
from contracts.outcomes import OUTCOME_TO_HEADER, Rejected, Stored
from contracts.protocols.envelope import HEADER_RECORD_ID, ProtocolEnvelope
from contracts.queries import (
    QUERY_MODELS,
    REPLY_DATA,
    ConnectionItem,
    ConnectionsList,
    Counts,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    Graph,
    GraphTraverse,
    Items,
    Page,
    Query,
    StatsCounts,
    TagsList,
)
from contracts.records import EntityRecord, EventRecord, TagRecord
from contracts.subjects import (
    CHANGES_STREAM,
    DLQ_STREAM,
    change_subject,
    connection_subject,
    dlq_subject,
    entity_subject,
    event_subject,
    is_tenant,
    protocol_subject,
    qualified,
    query_subject,
    tag_subject,
)
from one_bus.connection import nats_options
from one_bus.delivered import ChangeMessage, DeadLetterMessage
from one_bus.denials import Denials
from one_bus.errors import (
    ConnectError,
    NotFoundError,
    PublishError,
    QueryError,
    QueryUnavailableError,
    RejectedError,
)
from one_bus.ids import new_id
from one_bus.outcomes import OutcomeInbox, PendingOutcome, Published
from one_bus.pages import iterate_pages
from one_bus.subscription import Subscription
from one_bus.watch import Watch

DEFAULT_URL: Final = "nats://127.0.0.1:4222"

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
log = logging.getLogger(__name__)
_QUERY_NAMES: Final = {model: name for name, model in QUERY_MODELS.items()}


@cache
def _reply_adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(REPLY_DATA[name])


def _with_msg_id(headers: Mapping[str, str] | None, msg_id: str | None) -> dict[str, str]:
    """The headers with one `Nats-Msg-Id`: `msg_id`, else the headers', else a new one."""
    sent = dict(headers or {})
    found = next((v for k, v in sent.items() if k.lower() == HEADER_RECORD_ID.lower()), None)
    sent = {k: v for k, v in sent.items() if k.lower() != HEADER_RECORD_ID.lower()}
    sent[HEADER_RECORD_ID] = msg_id or found or new_id()
    return sent


def _tenant_and_spec(
    tenant: str | ConnectionSpec, connection: ConnectionSpec | str | None
) -> tuple[str, ConnectionSpec]:
    """Whose client it is and how it connects: a spec's own tenant, unless named apart."""
    if isinstance(tenant, ConnectionSpec):
        if connection is not None:
            raise TypeError("give the connection once: OneClient(spec) or OneClient(tenant, spec)")
        tenant, connection = tenant.tenant or "", tenant
        if not tenant:
            raise ValueError(
                "the connection spec names no tenant (a service identity or an open server):"
                " name it, OneClient('<tenant>', spec)"
            )
    spec = (
        ConnectionSpec(servers=[s.strip() for s in connection.split(",") if s.strip()])
        if isinstance(connection, str)
        else connection or ConnectionSpec(servers=[DEFAULT_URL])
    )
    if not is_tenant(tenant):
        raise ValueError(f"tenant {tenant!r} must match [A-Za-z0-9_-]{{1,64}}")
    if spec.tenant is not None and spec.tenant != tenant:
        # Its permissions cover its own tenant's subjects only: every call would be refused.
        raise ValueError(
            f"tenant {tenant!r}, but the connection spec is an identity of tenant"
            f" {spec.tenant!r}: use OneClient(spec), or that tenant's spec"
        )
    return tenant, spec


class OneClient:
    """A tenant's client: `async with OneClient(spec) as one: ...`.

    `OneClient(spec)`: a `ConnectionSpec` (what `one-bus tenant add` prints for a role),
    whose `tenant` the client acts for; `OneClient.from_spec_file(path)` reads one.
    `OneClient(tenant, connection)`: `connection` is a spec (one naming another tenant is
    refused) or a plain URL for an open development server (default: the local one).
    `nats_kwargs` go to `nats.connect` as they are (reconnect policy, callbacks; an
    `error_cb` of yours is called for every error).

    `outcome_timeout_s` bounds a `wait=True` publish's wait for its outcome (default: the
    request timeout). With `read_your_writes` (the default) every read carries the latest
    write's sequence as `after`.

    A server that cannot be reached within `connect_timeout_s` is a `ConnectError`; a
    publish, query, watch or subscription the server refuses for this identity's
    permissions is a `NotAllowedError` at once, not a timeout.
    """

    def __init__(
        self,
        tenant: str | ConnectionSpec,
        connection: ConnectionSpec | str | None = None,
        *,
        request_timeout_s: float = 10.0,
        publish_timeout_s: float = 5.0,
        publish_attempts: int = 3,
        connect_timeout_s: float = 2.0,
        changes_stream: str = CHANGES_STREAM,
        dlq_stream: str = DLQ_STREAM,
        outcome_timeout_s: float | None = None,
        read_your_writes: bool = True,
        **nats_kwargs: Any,
    ) -> None:
        self.tenant, self.spec = _tenant_and_spec(tenant, connection)
        self.request_timeout_s = request_timeout_s
        self.publish_timeout_s = publish_timeout_s
        self.publish_attempts = max(1, publish_attempts)
        self.connect_timeout_s = connect_timeout_s
        self.changes_stream = changes_stream
        self.dlq_stream = dlq_stream
        self.outcome_timeout_s = outcome_timeout_s or request_timeout_s
        self._read_your_writes = read_your_writes
        # The session's consistency token: the highest ingest sequence written or observed.
        self.last_seq: int | None = None
        self._error_cb = nats_kwargs.pop("error_cb", None)
        self._nats_kwargs = nats_kwargs
        self._denials = Denials()
        self._last_error: BaseException | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._outcomes: OutcomeInbox | None = None

    # Connection

    @classmethod
    async def connect(
        cls,
        tenant: str | ConnectionSpec,
        connection: ConnectionSpec | str | None = None,
        **options: Any,
    ) -> Self:
        """A connected client; `close()` it when done (or use `async with`)."""
        return await cls(tenant, connection, **options).start()

    @classmethod
    def from_spec_file(cls, path: str | Path, tenant: str | None = None, **options: Any) -> Self:
        """The client of a spec file (`one-bus tenant add NAME --out DIR` writes one per
        role), acting for the tenant it names; `tenant` only for a spec that names none.
        A file that is not one spec raises pydantic's `ValidationError`."""
        spec = ConnectionSpec.model_validate_json(Path(path).read_bytes())
        return cls(spec, **options) if tenant is None else cls(tenant, spec, **options)

    async def start(self) -> Self:
        if self._nc is None:
            options = {**nats_options(self.spec), **self._nats_kwargs, "error_cb": self._on_error}
            # nats-py retries a refused first connect for a long time: bound it, so a
            # wrong URL is an error, not a hang.
            try:
                self._nc = await asyncio.wait_for(
                    nats.connect(**options), timeout=self.connect_timeout_s
                )
            except (OSError, TimeoutError, NatsError) as error:
                why = self._last_error or error
                text = str(why) or type(why).__name__
                if isinstance(why, TimeoutError):
                    text = f"no connection within {self.connect_timeout_s:g} s"
                servers = ", ".join(self.spec.servers)
                raise ConnectError(f"cannot connect to NATS at {servers}: {text}") from error
            self._js = self._nc.jetstream(timeout=self.publish_timeout_s)
        return self

    async def _on_error(self, error: Exception) -> None:
        """nats-py's error callback: a permission violation fails the calls waiting on it
        (they would wait for their timeout); every error goes to the caller's callback."""
        self._last_error = error
        denied = self._denials.report(error)
        if self._error_cb is not None:
            await self._error_cb(error)
        elif denied is None and self._nc is not None:
            # While connecting, a failed attempt is the ConnectError's reason instead.
            log.warning("nats: %s", str(error) or type(error).__name__)

    async def guard(self, work: Awaitable[T], *, subject: str = "") -> T:
        """`work`'s result, or `NotAllowedError` as soon as the server reports a
        permission violation while it runs (for calls made on `nats`/`jetstream`;
        `subject`, the one it publishes to, keeps the error's subject in its case)."""
        return await self._denials.guard(work, subject=subject)

    async def close(self) -> None:
        """Flush what was published and disconnect."""
        if self._nc is not None:
            nc, self._nc, self._js, self._outcomes = self._nc, None, None, None
            if not nc.is_closed:
                await nc.drain()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def nats(self) -> NatsClient:
        """The underlying nats-py connection."""
        if self._nc is None:
            raise RuntimeError("the client is not connected: use `async with` or `start()`")
        return self._nc

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the client is not connected: use `async with` or `start()`")
        return self._js

    def observe(self, seq: int) -> None:
        """Make later reads see every write up to ingest sequence `seq` (one another
        process made, say), as if this client had written it."""
        self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)

    def read_your_writes(self, body: dict[str, Any]) -> dict[str, Any]:
        """A read request with the session's `after`, unless it names its own."""
        if not self._read_your_writes or self.last_seq is None or "after" in body:
            return body
        return {**body, "after": self.last_seq}

    def subject(self, subject: str) -> str:
        """A full subject: `entities.creator.upsert` becomes `one.v1.<tenant>.entities...`."""
        return qualified(self.tenant, subject)

    # Publishing

    async def publish_raw(
        self,
        subject: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> Published:
        """Publish bytes as they are. The id is `msg_id`, else the headers', else a new one."""
        sent = _with_msg_id(headers, msg_id)
        return await self._publish(self.subject(subject), data, sent, wait)

    async def submit_raw(
        self,
        subject: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        msg_id: str | None = None,
    ) -> PendingOutcome:
        """Publish bytes asking for their outcome; returns once the stream has them, with
        the outcome still to await (`await pending.wait(timeout_s)`): many writes can be
        in the stream while their outcomes come in (what `one-bus import` does)."""
        return await self._submit(self.subject(subject), data, _with_msg_id(headers, msg_id))

    async def _submit(self, subject: str, data: bytes, headers: dict[str, str]) -> PendingOutcome:
        if self._outcomes is None:
            self._outcomes = OutcomeInbox(self.nats)
        outcomes = self._outcomes
        target, answer = await outcomes.expect()
        try:
            sent = {**headers, OUTCOME_TO_HEADER: target}
            published, attempts = await self._publish_acked(subject, data, sent)
        except BaseException:
            outcomes.forget(target)
            raise
        if published.duplicate and attempts == 1:
            # An earlier message had this id: this one never reaches ingest. (A duplicate
            # after a retry is our own first attempt: its answer comes to the target.)
            outcomes.forget(target)
            known: asyncio.Future[Stored | Rejected] = asyncio.get_running_loop().create_future()
            known.set_result(Stored(stream=published.stream, seq=published.seq, duplicate=True))
            return PendingOutcome(published, known)
        return PendingOutcome(published, answer, outcomes, target)

    async def _publish(
        self, subject: str, data: bytes, headers: dict[str, str], wait: bool = False
    ) -> Published:
        """Publish; with `wait`, return once ingest has stored it (raise if rejected)."""
        if not wait:
            published, _ = await self._publish_acked(subject, data, headers)
            return published
        pending = await self._submit(subject, data, headers)
        result = await pending.wait(self.outcome_timeout_s)
        if isinstance(result, Rejected):
            raise RejectedError(subject, result.code, result.message, result.stream, result.seq)
        return replace(pending.published, outcome=result)

    async def _publish_acked(
        self, subject: str, data: bytes, headers: dict[str, str]
    ) -> tuple[Published, int]:
        """The PubAck, retried under the same id; and how many attempts it took."""
        last: Exception | None = None
        for attempt in range(self.publish_attempts):
            try:
                ack = await self.guard(
                    self.jetstream.publish(
                        subject, data, timeout=self.publish_timeout_s, headers=dict(headers)
                    ),
                    subject=subject,
                )
            except (NatsTimeoutError, NoStreamResponseError) as error:
                # The message may be stored with its ack lost: the same id makes the
                # retry a duplicate the stream drops, never a second record.
                last = error
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
                continue
            self.observe(ack.seq)
            published = Published(
                subject, headers[HEADER_RECORD_ID], ack.stream, ack.seq, bool(ack.duplicate)
            )
            return published, attempt + 1
        raise PublishError(
            f"{subject}: not acknowledged after {self.publish_attempts} attempts: {last!r}"
        )

    async def publish(
        self,
        command: AnyCommand,
        *,
        entity_type: EntityType | None = None,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> Published:
        """Publish a contracts command model on its subject (`wait`: until stored).

        Entity deletes and archives name no type in their payload, but their subject does:
        give it as `entity_type`.
        """
        data = command.model_dump_json(exclude_none=True).encode()
        match command:
            case EntityUpsert():
                subject = entity_subject(self.tenant, command.type, "upsert")
            case EntityDelete() | EntityArchive():
                if entity_type is None:
                    raise ValueError("entity deletes and archives need `entity_type`")
                op: Literal["delete", "archive"] = (
                    "delete" if isinstance(command, EntityDelete) else "archive"
                )
                subject = entity_subject(self.tenant, entity_type, op)
            case ConnectionCreate():
                subject = connection_subject(self.tenant, command.relationshipType, "create")
            case ConnectionDelete():
                raise ValueError("use delete_connection(): its subject needs the relationship type")
            case TagSet():
                subject = tag_subject(self.tenant, "set")
            case TagDelete():
                subject = tag_subject(self.tenant, "delete")
            case EventPublish():
                subject = event_subject(self.tenant, command.type)
        if msg_id is None and command_kind(command).id_is_msg_id:
            msg_id = getattr(command, "id", None)
        return await self._publish(subject, data, {HEADER_RECORD_ID: msg_id or new_id()}, wait)

    async def upsert_entity(
        self,
        *,
        type: EntityType,
        name: str,
        actor_id: str,
        id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        status: EntityStatus | None = None,
        updated_at: int | None = None,
        created_at: int | None = None,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> tuple[str, Published]:
        """Create or update an entity; returns its id (a new UUIDv7 unless given) and the ack.

        `updated_at` (epoch ms, default now) orders updates: an older one never wins.
        """
        command = EntityUpsert(
            id=id or new_id(),
            type=type,
            name=name,
            properties=dict(properties or {}),
            status=status,
            createdAt=created_at,
            updatedAt=now_ms() if updated_at is None else updated_at,
            actorId=actor_id,
        )
        return command.id, await self.publish(command, msg_id=msg_id, wait=wait)

    async def delete_entity(
        self,
        id: str,
        *,
        type: EntityType,
        actor_id: str,
        updated_at: int | None = None,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> Published:
        """Soft-delete an entity (queries hide it unless asked)."""
        command = EntityDelete(
            id=id, updatedAt=now_ms() if updated_at is None else updated_at, actorId=actor_id
        )
        return await self.publish(command, entity_type=type, msg_id=msg_id, wait=wait)

    async def archive_entity(
        self,
        id: str,
        *,
        type: EntityType,
        actor_id: str,
        updated_at: int | None = None,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> Published:
        """Set an entity's status to `archived`."""
        command = EntityArchive(
            id=id, updatedAt=now_ms() if updated_at is None else updated_at, actorId=actor_id
        )
        return await self.publish(command, entity_type=type, msg_id=msg_id, wait=wait)

    async def create_connection(
        self,
        *,
        from_id: str,
        to_id: str,
        relationship_type: ConnectionType,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,
        created_at: int | None = None,
        wait: bool = False,
    ) -> tuple[str, Published]:
        """Connect two entities; returns the connection's id and the ack."""
        command = ConnectionCreate(
            id=id or new_id(),
            fromEntityId=from_id,
            toEntityId=to_id,
            relationshipType=relationship_type,
            metadata=dict(metadata) if metadata is not None else None,
            createdAt=created_at,
        )
        return command.id, await self.publish(command, wait=wait)

    async def delete_connection(
        self,
        id: str,
        *,
        relationship_type: ConnectionType,
        updated_at: int | None = None,
        msg_id: str | None = None,
        wait: bool = False,
    ) -> Published:
        command = ConnectionDelete(id=id, updatedAt=updated_at)
        subject = connection_subject(self.tenant, relationship_type, "delete")
        data = command.model_dump_json(exclude_none=True).encode()
        return await self._publish(subject, data, {HEADER_RECORD_ID: msg_id or new_id()}, wait)

    async def set_tag(
        self, entity_id: str, key: str, value: str, *, msg_id: str | None = None, wait: bool = False
    ) -> Published:
        command = TagSet(entityId=entity_id, key=key, value=value)
        return await self.publish(command, msg_id=msg_id, wait=wait)

    async def delete_tag(
        self, entity_id: str, key: str, value: str, *, msg_id: str | None = None, wait: bool = False
    ) -> Published:
        command = TagDelete(entityId=entity_id, key=key, value=value)
        return await self.publish(command, msg_id=msg_id, wait=wait)

    async def publish_event(
        self,
        *,
        type: EventType,
        actor_id: str,
        metadata: Mapping[str, Any],
        target_id: str | None = None,
        timestamp: int | None = None,
        id: str | None = None,
        wait: bool = False,
    ) -> tuple[str, Published]:
        """Record that something happened; returns the event's id and the ack."""
        command = EventPublish(
            id=id or new_id(),
            type=type,
            actorId=actor_id,
            targetId=target_id,
            timestamp=now_ms() if timestamp is None else timestamp,
            metadata=dict(metadata),
        )
        return command.id, await self.publish(command, wait=wait)

    async def publish_protocol(
        self,
        protocol: str,
        message_type: str,
        message: bytes | Mapping[str, Any],
        *,
        actor_id: str,
        target_id: str | None = None,
        timestamp: int | None = None,
        correlation_id: str | None = None,
        id: str | None = None,
        wait: bool = False,
    ) -> tuple[str, Published]:
        """Publish a raw A2A, ACP, AP2, x402 or AG-UI message unchanged, with ONE's envelope.

        Returns the id of the event it becomes (a new UUIDv7 unless given) and the ack.
        """
        envelope = ProtocolEnvelope(
            recordId=id or new_id(),
            actorId=actor_id,
            targetId=target_id,
            timestamp=timestamp,
            correlationId=correlation_id,
        )
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        subject = protocol_subject(self.tenant, protocol, message_type)
        return envelope.recordId, await self._publish(subject, data, envelope.to_headers(), wait)

    # Queries

    async def query(self, name: str, request: Query | Mapping[str, Any] | None = None) -> Any:
        """Run a query by name; returns the reply's `data` as JSON values.

        Raises `QueryError` (with `code`, `message`, `details`) for an error reply,
        `QueryUnavailableError` when no responder is running. The session's `after` is
        added unless the request has its own.
        """
        if isinstance(request, Query):
            fields = request.model_dump(mode="json", exclude_none=True)
        else:
            fields = dict(request or {})
        body = json.dumps(self.read_your_writes(fields)).encode()
        subject = query_subject(self.tenant, name)
        try:
            msg = await self.guard(
                self.nats.request(
                    subject,
                    body,
                    timeout=self.request_timeout_s,
                    # The responder stops working on the request when we stop waiting.
                    headers={TIMEOUT_HEADER: str(int(self.request_timeout_s * 1000))},
                ),
                subject=subject,
            )
        except NoRespondersError as error:
            raise QueryUnavailableError(f"{name}: no query responder is running") from error
        except NatsTimeoutError as error:
            raise QueryError(
                name, "timeout", f"no reply within {self.request_timeout_s:g} s"
            ) from error
        reply = json.loads(msg.data)
        if isinstance(reply, dict) and reply.get("ok") is True:
            return reply.get("data")
        error_body = ErrorReply.model_validate(reply).error
        error_type = NotFoundError if error_body.code == "not_found" else QueryError
        raise error_type.from_body(name, error_body)

    def watch(
        self,
        name: str,
        request: Query | Mapping[str, Any] | None = None,
        *,
        renew_every_s: float | None = None,
    ) -> Watch:
        """A live query: `async for result in one.watch("entities.list", {...})` yields
        the first result, then each new one as the stored data changes (docs/watch.md).

        The lease is renewed for you (every `renew_every_s`, by default a third of the
        lease); leaving an `async with` block stops the watch."""
        return Watch(self, name, request, renew_every_s=renew_every_s)

    async def _typed(self, request: Query, model: type[ModelT] | None = None) -> Any:
        name = _QUERY_NAMES[type(request)]
        data = await self.query(name, request)
        if model is not None:
            return model.model_validate(data)
        return _reply_adapter(name).validate_python(data)

    async def get_entity(
        self, id: str, *, type: EntityType | None = None, include_deleted: bool = False
    ) -> EntityRecord:
        """One entity; raises `NotFoundError` when there is none (of that type)."""
        request = EntitiesGet(id=id, type=type, includeDeleted=include_deleted)
        entity: EntityRecord = await self._typed(request, EntityRecord)
        return entity

    async def get_entities(
        self, ids: list[str], *, type: EntityType | None = None, include_deleted: bool = False
    ) -> list[EntityRecord]:
        """The entities among `ids` that exist (at most 100 ids)."""
        request = EntitiesGet(ids=ids, type=type, includeDeleted=include_deleted)
        found: Items[EntityRecord] = await self._typed(request, Items[EntityRecord])
        return found.items

    async def list_entities(self, request: EntitiesList | None = None) -> Page[EntityRecord]:
        page: Page[EntityRecord] = await self._typed(request or EntitiesList())
        return page

    async def search_entities(self, request: EntitiesSearch) -> list[EntityRecord]:
        found: Items[EntityRecord] = await self._typed(request)
        return found.items

    async def list_connections(self, request: ConnectionsList) -> Page[ConnectionItem]:
        page: Page[ConnectionItem] = await self._typed(request)
        return page

    async def list_events(self, request: EventsList | None = None) -> Page[EventRecord]:
        page: Page[EventRecord] = await self._typed(request or EventsList())
        return page

    async def list_tags(self, request: TagsList) -> Page[TagRecord]:
        page: Page[TagRecord] = await self._typed(request)
        return page

    async def traverse(self, request: GraphTraverse) -> Graph:
        graph: Graph = await self._typed(request)
        return graph

    async def counts(self, request: StatsCounts) -> Counts:
        counts: Counts = await self._typed(request)
        return counts

    def entity_pages(
        self, request: EntitiesList | None = None
    ) -> AsyncIterator[Page[EntityRecord]]:
        """Every page of `entities.list`: `async for page in one.entity_pages(...)`."""
        return iterate_pages(self.list_entities, request or EntitiesList())

    def connection_pages(self, request: ConnectionsList) -> AsyncIterator[Page[ConnectionItem]]:
        return iterate_pages(self.list_connections, request)

    def event_pages(self, request: EventsList | None = None) -> AsyncIterator[Page[EventRecord]]:
        return iterate_pages(self.list_events, request or EventsList())

    def tag_pages(self, request: TagsList) -> AsyncIterator[Page[TagRecord]]:
        return iterate_pages(self.list_tags, request)

    # Following the bus

    def subscribe(
        self,
        what: Literal["changes", "events"] = "changes",
        *,
        collection: Collection | None = None,
        type: str | None = None,
        since: datetime | None = None,
        start_seq: int | None = None,
    ) -> Subscription[ChangeMessage]:
        """Follow what this tenant's bus stored, from `since` (a time), `start_seq` (a
        sequence of the changes stream) or, with neither, from now on.

        `what="events"` is the changes of the events collection (the events as stored,
        protocol messages and lifecycle audit events included). `collection` and `type`
        narrow the subject (`changes.<collection>.<type>`).
        """
        if what == "events":
            if collection not in (None, "events"):
                raise ValueError("events are the changes of the `events` collection")
            collection = "events"
        if type is not None and collection is None:
            raise ValueError("`type` needs `collection`")
        subject = change_subject(self.tenant, collection or "*", type or "*")
        return Subscription(
            self.jetstream,
            stream=self.changes_stream,
            subject=subject,
            decode=ChangeMessage.from_msg,
            since=since,
            start_seq=start_seq,
            guard=self.guard,
        )

    def dead_letters(
        self,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        start_seq: int | None = None,
    ) -> Subscription[DeadLetterMessage]:
        """Follow this tenant's dead letters (`kind`: entities, connections, tags, ...)."""
        return Subscription(
            self.jetstream,
            stream=self.dlq_stream,
            subject=dlq_subject(self.tenant, kind or "*"),
            decode=DeadLetterMessage.from_msg,
            since=since,
            start_seq=start_seq,
            guard=self.guard,
        )
