"""The messages a fault scenario publishes: thousands, hostile in the ways real traffic is.

Per tenant (two tenants share the streams), a seeded generator makes:

- entities, each of one type, with 1-6 commands: upserts, deletes and archives whose
  `updatedAt` goes backwards a quarter of the time (stale updates), ties sometimes (broken
  by stream order), and starts with a delete now and then (a tombstone before the entity);
- connections, a quarter deleted later (some twice, some deletes before any create, some
  without `updatedAt` or `createdAt`, which then come from the stream's timestamp), a few
  created twice with different contents (the first in stream order wins);
- tags set and deleted on a few triples over and over (the last by stream order wins);
- events of plain and consolidated types;
- poison: every way a message can be bad input, each with the DLQ reason it must get.

Everything is shuffled together, then duplicates are mixed in: the same message again with
the same `Nats-Msg-Id` (the stream's dedupe window drops it) and again under a new id (the
store's idempotency must absorb it).
"""

import json
import random
from dataclasses import dataclass, field
from typing import Any, Final

BASE_MS: Final = 1_763_900_000_000
ENTITY_TYPES: Final = ("creator", "blog_post", "video", "course", "product")
STATUSES: Final = (None, "active", "draft", "published")
CONNECTION_TYPES: Final = ("owns", "following", "transacted")
TAG_KEYS: Final = ("topic", "lang")
TAG_VALUES: Final = ("a", "b", "c")


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    data: bytes
    msg_id: str
    headers: tuple[tuple[str, str], ...] = ()
    # None for valid input; else the DLQ reason the service must give it.
    poison: str | None = None

    @property
    def tenant(self) -> str:
        return self.subject.split(".")[2]

    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.data)
        return loaded

    def header_map(self) -> dict[str, str]:
        return {"Nats-Msg-Id": self.msg_id, **dict(self.headers)}


@dataclass(frozen=True)
class Workload:
    # In publish order, duplicates included.
    messages: tuple[Message, ...]
    seed: int = 0

    @property
    def distinct(self) -> int:
        """How many messages the stream will hold (duplicates under one id are one)."""
        return len({m.msg_id for m in self.messages})

    @property
    def poison(self) -> int:
        return len({m.msg_id for m in self.messages if m.poison})

    def __len__(self) -> int:
        return len(self.messages)


@dataclass
class _Builder:
    rng: random.Random
    tenant: str
    out: list[Message] = field(default_factory=list)

    def add(self, suffix: str, payload: Any, msg_id: str, poison: str | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.out.append(Message(f"one.v1.{self.tenant}.{suffix}", data, msg_id, poison=poison))

    def entities(self, count: int) -> list[str]:
        ids = []
        for n in range(count):
            entity_id = f"ent-{n:04d}"
            ids.append(entity_id)
            self._entity_commands(entity_id, self.rng.choice(ENTITY_TYPES), BASE_MS + n * 10_000)
        return ids

    def _entity_commands(self, entity_id: str, entity_type: str, start: int) -> None:
        rng = self.rng
        newest = updated_at = start
        for k in range(rng.randint(1, 6)):
            roll = rng.random()
            if k and roll < 0.25:
                updated_at = rng.randint(start - 500, newest - 1)  # stale: older than seen
            elif not (k and roll < 0.32):  # else a tie with the previous command
                updated_at = newest + rng.randint(1, 1000)
            newest = max(newest, updated_at)
            # Ties on one op and updatedAt are one lifecycle event: same actor for both.
            actor = f"actor-{updated_at % 5}"
            op = rng.choices(("upsert", "delete", "archive"), (90, 5, 5) if not k else (60, 20, 20))
            msg_id = f"{self.tenant}-{entity_id}-{k}"
            if op[0] == "upsert":
                payload: dict[str, Any] = {
                    "id": entity_id,
                    "type": entity_type,
                    "name": f"{entity_type} {entity_id} at {updated_at}",
                    "properties": {"step": k, "scores": [rng.randint(0, 99) for _ in range(3)]},
                    "updatedAt": updated_at,
                    "actorId": actor,
                }
                status = rng.choice(STATUSES)
                if status:
                    payload["status"] = status
                if rng.random() < 0.2:
                    payload["createdAt"] = start - rng.randint(1, 100)
                self.add(f"entities.{entity_type}.upsert", payload, msg_id)
            else:
                payload = {"id": entity_id, "updatedAt": updated_at, "actorId": actor}
                self.add(f"entities.{entity_type}.{op[0]}", payload, msg_id)

    def connections(self, count: int, entity_ids: list[str]) -> None:
        rng = self.rng
        for n in range(count):
            connection_id = f"con-{n:04d}"
            kind = rng.choice(CONNECTION_TYPES)
            created_at = BASE_MS + rng.randint(0, 10**6)
            if rng.random() < 0.95:  # else only deleted: a tombstone without a create
                payload: dict[str, Any] = {
                    "id": connection_id,
                    "fromEntityId": rng.choice(entity_ids),
                    "toEntityId": rng.choice(entity_ids),
                    "relationshipType": kind,
                }
                if kind == "transacted":
                    payload["metadata"] = {"transactionType": "payment", "amount": n}
                if rng.random() < 0.8:  # else createdAt comes from the stream's timestamp
                    payload["createdAt"] = created_at
                self.add(f"connections.{kind}.create", payload, f"{self.tenant}-{connection_id}")
                if rng.random() < 0.05:  # a different create of the same id: the first wins
                    other = {**payload, "toEntityId": rng.choice(entity_ids), "createdAt": n}
                    msg_id = f"{self.tenant}-{connection_id}-b"
                    self.add(f"connections.{kind}.create", other, msg_id)
            if rng.random() < 0.25:
                for d in range(rng.choice((1, 1, 2))):
                    delete: dict[str, Any] = {"id": connection_id}
                    if rng.random() < 0.7:  # else the stream's timestamp
                        delete["updatedAt"] = created_at + rng.randint(1, 5000)
                    msg_id = f"{self.tenant}-{connection_id}-del{d}"
                    self.add(f"connections.{kind}.delete", delete, msg_id)

    def tags(self, count: int, entity_ids: list[str]) -> None:
        rng = self.rng
        targets = rng.sample(entity_ids, min(len(entity_ids), max(1, count // 6)))
        for n in range(count):
            tag = {
                "entityId": rng.choice(targets),
                "key": rng.choice(TAG_KEYS),
                "value": rng.choice(TAG_VALUES),
            }
            op = "set" if rng.random() < 0.65 else "delete"
            self.add(f"tags.{op}", tag, f"{self.tenant}-tag-{n}")

    def events(self, count: int, entity_ids: list[str]) -> None:
        rng = self.rng
        for n in range(count):
            kind, metadata = rng.choice(
                [
                    ("user_login", {}),
                    ("content_event", {"action": "viewed"}),
                    ("payment_event", {"status": "processed", "protocol": "x402", "amount": n}),
                ]
            )
            event: dict[str, Any] = {
                "id": f"evt-{n:05d}",
                "type": kind,
                "actorId": rng.choice(entity_ids),
                "timestamp": BASE_MS + n,
                "metadata": metadata,
            }
            if rng.random() < 0.5:
                event["targetId"] = rng.choice(entity_ids)
            self.add(f"events.{kind}", event, f"{self.tenant}-evt-{n}")

    def poison(self, count: int) -> None:
        upsert = {"id": "p", "type": "creator", "name": "P", "updatedAt": 1, "actorId": "u"}
        kinds: list[tuple[str, Any, str]] = [
            ("entities.creator.upsert", b'{"id": "p", "type": ', "malformed_json"),
            ("entities.creator.upsert", b"\xff\xfe\x00 not json at all", "malformed_json"),
            ("entities.creator.upsert", {**upsert, "updatedAt": "yesterday"}, "invalid_payload"),
            ("entities.creator.upsert", {**upsert, "properties": {"$gt": 1}}, "invalid_payload"),
            (
                "events.payment_event",
                {
                    "id": "p",
                    "type": "payment_event",
                    "actorId": "u",
                    "timestamp": 1,
                    "metadata": {"status": "done"},
                },
                "invalid_payload",
            ),
            ("tags.set", {"entityId": "p", "value": "v"}, "invalid_payload"),
            (
                "connections.transacted.create",
                {
                    "id": "p",
                    "fromEntityId": "a",
                    "toEntityId": "b",
                    "relationshipType": "transacted",
                },
                "invalid_payload",
            ),
            ("entities.creator.upsert", {**upsert, "type": "video"}, "subject_mismatch"),
            ("entities.creator.upsert", {**upsert, "groupId": "someone-else"}, "subject_mismatch"),
            ("entities.wizard.upsert", upsert, "bad_subject"),
            ("tags.rename", {"entityId": "p", "key": "k", "value": "v"}, "bad_subject"),
            (
                "protocols.a2a.Message",
                {"messageId": "m", "role": "ROLE_USER", "parts": []},
                "invalid_envelope",
            ),
        ]
        for n in range(count):
            suffix, payload, reason = kinds[n % len(kinds)]
            self.add(suffix, payload, f"{self.tenant}-poison-{n}", poison=reason)
        # Two oversize payloads (over the 256 KiB limit, under NATS's 1 MiB).
        for n in range(2):
            big = {**upsert, "properties": {"blob": "x" * 300_000}}
            self.add("entities.creator.upsert", big, f"{self.tenant}-oversize-{n}", "oversize")


def generate(
    seed: int,
    *,
    tenants: tuple[str, ...] = ("acme", "globex"),
    entities: int = 180,
    connections: int = 180,
    tags: int = 300,
    events: int = 540,
    poison: int = 60,
) -> Workload:
    """About 1,800 distinct messages per tenant with the defaults, plus ~11 % duplicates."""
    rng = random.Random(seed)
    distinct: list[Message] = []
    for tenant in tenants:
        builder = _Builder(rng, tenant)
        ids = builder.entities(entities)
        builder.connections(connections, ids)
        builder.tags(tags, ids)
        builder.events(events, ids)
        builder.poison(poison)
        distinct.extend(builder.out)
    rng.shuffle(distinct)
    published = list(distinct)
    for message in rng.sample(distinct, len(distinct) // 12):
        # The same publish again (a publisher's retry): dropped by the dedupe window.
        published.insert(rng.randint(published.index(message), len(published)), message)
    valid = [m for m in distinct if m.poison is None]
    for message in rng.sample(valid, len(distinct) // 40):
        # The same record under a new Nats-Msg-Id (a retry after the window): the store's turn.
        again = Message(message.subject, message.data, message.msg_id + "~again")
        published.insert(rng.randint(published.index(message), len(published)), again)
    return Workload(tuple(published), seed)
