"""Ingest workloads: events, entity upserts (with updates), and a realistic mix."""

import json
import random
from collections.abc import Callable, Iterator
from typing import Final

from contracts.subjects import connection_subject, entity_subject, event_subject, tag_subject

Messages = Iterator[tuple[str, bytes]]
_T0: Final = 1_700_000_000_000


def _upsert(tenant: str, entity: str, n: int) -> tuple[str, bytes]:
    payload = {
        "id": entity,
        "type": "creator",
        "name": f"Creator {entity}",
        "properties": {"bio": "x" * 200, "followers": n},
        "status": "active",
        "updatedAt": _T0 + n,
        "actorId": "bench",
    }
    return entity_subject(tenant, "creator", "upsert"), json.dumps(payload).encode()


def _event(tenant: str, actor: str, n: int) -> tuple[str, bytes]:
    payload = {
        "id": f"ev{n}",
        "type": "payment_event",
        "actorId": actor,
        "timestamp": _T0 + n,
        "metadata": {"status": "processed", "protocol": "x402", "amount": str(n)},
    }
    return event_subject(tenant, "payment_event"), json.dumps(payload).encode()


def events(tenant: str, count: int, seed: int = 7) -> Messages:
    """Payment events from a quarter as many actors."""
    rng = random.Random(seed)
    for n in range(count):
        yield _event(tenant, f"e{rng.randrange(max(1, count // 4))}", n)


def entities(tenant: str, count: int, seed: int = 7) -> Messages:
    """Entity upserts, a quarter of them updates of an entity already sent."""
    rng = random.Random(seed)
    distinct = max(1, count * 3 // 4)
    for n in range(count):
        yield _upsert(tenant, f"e{n if n < distinct else rng.randrange(distinct)}", n)


def messages(tenant: str, count: int, seed: int = 7) -> Messages:
    """The mix: half entity upserts (a quarter of them updates), a quarter events, the
    rest connections and tags, in a fixed pseudo-random order."""
    rng = random.Random(seed)
    distinct = max(1, count // 4)
    for n in range(count):
        kind = rng.random()
        entity = f"e{rng.randrange(distinct)}"
        if kind < 0.5:
            yield _upsert(tenant, entity, n)
        elif kind < 0.75:
            yield _event(tenant, entity, n)
        elif kind < 0.9:
            payload = {
                "id": f"c{n}",
                "fromEntityId": entity,
                "toEntityId": f"e{rng.randrange(distinct)}",
                "relationshipType": "following",
            }
            yield connection_subject(tenant, "following", "create"), json.dumps(payload).encode()
        else:
            payload = {"entityId": entity, "key": "topic", "value": f"t{n % 17}"}
            yield tag_subject(tenant, "set"), json.dumps(payload).encode()


WORKLOADS: Final[dict[str, Callable[[str, int], Messages]]] = {
    "events": events,
    "entity upserts": entities,
    "mix": messages,
}
