"""A mixed ingest workload: entities (with updates), connections, tags and events."""

import json
import random
from collections.abc import Iterator


def messages(tenant: str, count: int, seed: int = 7) -> Iterator[tuple[str, bytes]]:
    """(subject, payload) pairs: half entity upserts (a quarter of them updates), the rest
    events, connections and tags, in a fixed pseudo-random order."""
    rng = random.Random(seed)
    entities = max(1, count // 4)
    for n in range(count):
        kind = rng.random()
        entity = f"e{rng.randrange(entities)}"
        if kind < 0.5:
            payload = {
                "id": entity,
                "type": "creator",
                "name": f"Creator {entity}",
                "properties": {"bio": "x" * 200, "followers": n},
                "status": "active",
                "updatedAt": 1_700_000_000_000 + n,
                "actorId": "bench",
            }
            yield f"one.v1.{tenant}.entities.creator.upsert", json.dumps(payload).encode()
        elif kind < 0.75:
            payload = {
                "id": f"ev{n}",
                "type": "payment_event",
                "actorId": entity,
                "timestamp": 1_700_000_000_000 + n,
                "metadata": {"status": "processed", "protocol": "x402", "amount": str(n)},
            }
            yield f"one.v1.{tenant}.events.payment_event", json.dumps(payload).encode()
        elif kind < 0.9:
            payload = {
                "id": f"c{n}",
                "fromEntityId": entity,
                "toEntityId": f"e{rng.randrange(entities)}",
                "relationshipType": "following",
            }
            yield f"one.v1.{tenant}.connections.following.create", json.dumps(payload).encode()
        else:
            payload = {"entityId": entity, "key": "topic", "value": f"t{n % 17}"}
            yield f"one.v1.{tenant}.tags.set", json.dumps(payload).encode()
