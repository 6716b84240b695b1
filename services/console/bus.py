"""The console's only way to the bus: the SDK client of the identity it was given.

Everything goes through the subjects a tenant's own client uses (queries, watches, the
changes and dead-letter streams through filtered ordered consumers, publishes to ingest
subjects), so the console can show and do only what that identity may. A publish or
request the server refuses is not answered: nats-py reports the permissions violation to
the error callback and the request times out. `BusRefusedError` joins the two, so a page says
"the bus refused …" instead of "timeout".
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Final

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError
from nats.js.errors import NotFoundError as JsNotFoundError

from contracts.connection_spec import ConnectionSpec
from contracts.dead_letters import HEADER_HEADERS_CUT, HEADER_PAYLOAD_CUT, replay_msg_id
from contracts.ontology import LIFECYCLE_EVENT_TYPES
from contracts.queries import (
    ConnectionItem,
    ConnectionsList,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    Graph,
    GraphTraverse,
    TagsList,
)
from contracts.records import EntityRecord, EventRecord, TagRecord
from contracts.subjects import SubjectError, parse_ingest_subject
from one_bus.client import OneClient
from one_bus.delivered import DeadLetterMessage
from one_bus.errors import (
    NotFoundError,
    OneBusError,
    OutcomeTimeoutError,
    PublishError,
    QueryError,
    QueryUnavailableError,
    RejectedError,
)
from one_bus.subscription import Subscription
from services.settings import Settings

# The role `one-bus tenant add` gives read-only users: the console offers them no writes.
READ_ONLY_ROLES: Final = frozenset({"customer"})
# Enough of a tenant's dead letters for one page; older ones are still in the stream.
MAX_DEAD_LETTERS: Final = 10_000
# How long an empty dead-letter stream is waited on before it is taken as empty.
EMPTY_WAIT_S: Final = 1.0
_VIOLATIONS_KEPT: Final = 64


class BusRefusedError(Exception):
    """The bus's permissions refused what was asked (shown as a message, not a crash)."""


class BusUnavailableError(Exception):
    """The bus did not answer: no responder, a timeout, a stream that does not exist."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the console is on the bus: the tenant it acts for, its role, its NATS user."""

    tenant: str
    role: str | None
    user: str | None

    @property
    def can_write(self) -> bool:
        return self.role not in READ_ONLY_ROLES


@dataclass(frozen=True, slots=True)
class EntityView:
    entity: EntityRecord
    tags: list[TagRecord]
    outgoing: list[ConnectionItem]
    incoming: list[ConnectionItem]
    events: list[EventRecord]
    audit: list[EventRecord]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What replaying one dead letter did: the publish's acknowledgement, or why not."""

    seq: int
    subject: str
    ok: bool
    message: str
    ingest_seq: int | None = None
    duplicate: bool = False
    # Whether the dead letter was removed after the replay (needs the operator's rights).
    deleted: bool = False
    # What ingest made of the replay (docs/outcomes.md): "stored", "rejected" (again), or
    # "unknown" (no outcome in time); "" when nothing was replayed.
    outcome: str = ""


def records_query(
    *, type: str | None, status: str | None, text: str, cursor: str | None, limit: int
) -> EntitiesList | EntitiesSearch:
    """The records list a page asks for: a search when there is text, else a list (newest
    updates first). Raises pydantic's ValidationError for values the bus would refuse."""
    fields = {"type": type or None, "status": status or None, "limit": limit}
    if text:
        return EntitiesSearch.model_validate({**fields, "text": text})
    return EntitiesList.model_validate({**fields, "cursor": cursor, "orderBy": "updatedAt"})


class ConsoleBus:
    """The bus as the console sees it: one SDK client, one identity."""

    def __init__(self, spec: ConnectionSpec, tenant: str, settings: Settings) -> None:
        self.identity = Identity(tenant=tenant, role=spec.role, user=spec.user)
        self.spec = spec
        self.settings = settings
        self._violations: deque[str] = deque(maxlen=_VIOLATIONS_KEPT)
        self._violation_count = 0
        self.client = OneClient(
            tenant,
            spec,
            request_timeout_s=5.0,
            connect_timeout_s=10.0,
            changes_stream=settings.changes_stream,
            dlq_stream=settings.dlq_stream,
            publish_timeout_s=settings.publish_ack_timeout_s,
            # A refused publish is not retried: the refusal is the answer.
            publish_attempts=1,
            error_cb=self._on_error,
            # A console is left running: it rides out a server restart.
            max_reconnect_attempts=-1,
        )

    async def start(self) -> "ConsoleBus":
        await self.client.start()
        return self

    async def close(self) -> None:
        await self.client.close()

    @property
    def violation_count(self) -> int:
        """How many permissions violations the server has reported on this connection."""
        return self._violation_count

    @property
    def last_violation(self) -> str:
        return self._violations[-1] if self._violations else ""

    async def _on_error(self, error: Exception) -> None:
        text = str(error)
        if "permissions violation" in text.lower():
            self._violations.append(text)
            self._violation_count += 1

    def _refused(self, what: str) -> BusRefusedError:
        return BusRefusedError(f"{what}: the bus refused it ({self.last_violation})")

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn the ways a bus says no into BusRefusedError / BusUnavailableError, saying what."""
        before = self._violation_count
        try:
            yield
        except (QueryError, PublishError) as error:
            # A refused request or publish surfaces as a timeout: say it was refused.
            timed_out = isinstance(error, PublishError) or error.code == "timeout"
            if timed_out and self._violation_count > before:
                raise self._refused(what) from error
            raise
        except QueryUnavailableError as error:
            raise BusUnavailableError(f"{what}: {error}") from error
        except (NatsTimeoutError, NoRespondersError, TimeoutError) as error:
            if self._violation_count > before:
                raise BusRefusedError(
                    f"{what}: the bus refused it ({self._violations[-1]})"
                ) from error
            raise BusUnavailableError(f"{what}: no answer from the bus") from error
        except JsNotFoundError as error:
            raise BusUnavailableError(f"{what}: not found ({error.description})") from error
        except APIError as error:
            raise BusUnavailableError(f"{what}: {error.description or error}") from error
        except NatsError as error:
            raise BusUnavailableError(f"{what}: {error}") from error

    # Records

    async def entity_view(self, entity_id: str) -> EntityView:
        """One entity with its tags, connections both ways, events and audit trail."""
        with self.guard(f"entity {entity_id}"):
            entity = await self.client.get_entity(entity_id)
            tags, outgoing, incoming, events = await asyncio.gather(
                self.client.list_tags(TagsList(entityId=entity_id, limit=100)),
                self.client.list_connections(
                    ConnectionsList(fromEntityId=entity_id, withEntities=True, limit=100)
                ),
                self.client.list_connections(
                    ConnectionsList(toEntityId=entity_id, withEntities=True, limit=100)
                ),
                self.client.list_events(EventsList(targetId=entity_id, limit=100)),
            )
        audit = [event for event in events.items if event.type in LIFECYCLE_EVENT_TYPES]
        others = [event for event in events.items if event.type not in LIFECYCLE_EVENT_TYPES]
        return EntityView(entity, tags.items, outgoing.items, incoming.items, others, audit)

    async def graph(self, entity_id: str, depth: int) -> Graph:
        with self.guard(f"graph of {entity_id}"):
            return await self.client.traverse(
                GraphTraverse(startId=entity_id, direction="both", depth=depth, limit=200)
            )

    # Dead letters

    def _letters(self, start_seq: int) -> Subscription[tuple[DeadLetterMessage, int]]:
        return Subscription(
            self.client.jetstream,
            stream=self.settings.dlq_stream,
            subject=self.client.subject("dlq.*"),
            decode=lambda msg: (DeadLetterMessage.from_msg(msg), msg.metadata.num_pending),
            start_seq=start_seq,
        )

    async def dead_letters(self, *, reason: str | None = None) -> list[DeadLetterMessage]:
        """This tenant's dead letters still in the stream, oldest first."""
        letters: list[DeadLetterMessage] = []
        with self.guard("dead letters"):
            async with self._letters(1) as subscription:
                async for letter, pending in _until_caught_up(subscription):
                    if reason is None or letter.reason == reason:
                        letters.append(letter)
                    if pending == 0 or len(letters) >= MAX_DEAD_LETTERS:
                        break
        return letters

    async def dead_letter(self, seq: int) -> DeadLetterMessage:
        with self.guard(f"dead letter {seq}"):
            async with self._letters(seq) as subscription:
                async for letter, _ in _until_caught_up(subscription):
                    if letter.position.seq == seq:
                        return letter
                    break
        raise NotFoundError(f"dead letter {seq}", "not_found", "no such dead letter of this tenant")

    async def replay(self, seqs: list[int]) -> list[ReplayResult]:
        """Republish each dead letter to the subject it came from, as it was sent.

        The publish reuses `replay:<seq>` as its message id, so replaying one letter twice
        within the stream's duplicate window stores it once. The letter is then removed
        from the dead-letter stream where the identity may do that (the operator's).
        """
        if not self.identity.can_write:
            raise BusRefusedError(f"a {self.identity.role} identity may not replay dead letters")
        return [await self._replay_one(seq) for seq in seqs]

    async def _replay_one(self, seq: int) -> ReplayResult:
        try:
            letter = await self.dead_letter(seq)
        except (OneBusError, BusRefusedError, BusUnavailableError) as error:
            return ReplayResult(seq, "", False, str(error))
        subject = letter.original_subject
        why_not = self._why_not_replayable(letter)
        if why_not:
            return ReplayResult(seq, subject, False, why_not)
        try:
            with self.guard(f"replay of dead letter {seq}"):
                published = await self.client.publish_raw(
                    subject,
                    letter.data,
                    letter.original_headers,
                    msg_id=replay_msg_id(seq),
                    wait=True,
                )
        except RejectedError as error:
            # In the stream, then dead-lettered again: the new letter replaces this one.
            deleted, note = await self._remove(seq)
            message = (
                f"rejected again: {error.code}: {error.message} ({error.stream} seq {error.seq})"
            )
            return ReplayResult(
                seq, subject, True, f"{message}; {note}", error.seq, False, deleted, "rejected"
            )
        except OutcomeTimeoutError as error:
            deleted, note = await self._remove(seq)
            message = (
                f"republished to {subject}: {error.stream} seq {error.seq}, no outcome in time"
            )
            return ReplayResult(
                seq, subject, True, f"{message}; {note}", error.seq, False, deleted, "unknown"
            )
        except (BusRefusedError, BusUnavailableError, OneBusError) as error:
            return ReplayResult(seq, subject, False, str(error))
        deleted, note = await self._remove(seq)
        message = f"republished to {subject}: {published.stream} seq {published.seq}"
        if published.duplicate:
            message += " (a duplicate: already replayed within the duplicate window)"
        elif published.outcome is not None:
            effects = ", ".join(
                f"{r.collection} {r.id} {r.effect}" for r in published.outcome.records
            )
            message += f", stored: {effects or 'no record'}"
        return ReplayResult(
            seq,
            subject,
            True,
            f"{message}; {note}",
            published.seq,
            published.duplicate,
            deleted,
            "stored",
        )

    def _why_not_replayable(self, letter: DeadLetterMessage) -> str | None:
        if HEADER_PAYLOAD_CUT in letter.headers or HEADER_HEADERS_CUT in letter.headers:
            return (
                "cut to fit the dead-letter stream: replay it with `one-bus dlq replay` "
                "as the operator (it reads the whole original from the ingest stream)"
            )
        try:
            target = parse_ingest_subject(letter.original_subject)
        except SubjectError as error:
            return f"its subject names nothing to replay to ({error}); publish a fixed message"
        if target.tenant != self.identity.tenant:
            return f"its subject belongs to tenant {target.tenant!r}, not to this identity's"
        return None

    async def _remove(self, seq: int) -> tuple[bool, str]:
        try:
            with self.guard(f"removing dead letter {seq}"):
                await self.client.jetstream.delete_msg(self.settings.dlq_stream, seq)
        except (BusRefusedError, BusUnavailableError) as error:
            return False, f"the dead letter is kept ({error})"
        return True, "the dead letter was removed"


async def _until_caught_up(
    subscription: Subscription[tuple[DeadLetterMessage, int]],
) -> AsyncIterator[tuple[DeadLetterMessage, int]]:
    """Messages until the caller stops; an empty stream ends after a short wait."""
    try:
        first = await subscription.next(wait_s=EMPTY_WAIT_S)
    except TimeoutError:
        return
    yield first
    while True:
        yield await subscription.next(wait_s=EMPTY_WAIT_S * 10)
