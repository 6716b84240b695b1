"""A burst of hostile requests, interleaved with good ones, over NATS: every good one is
answered correctly, every hostile one is refused as `invalid_request`.

No timing is asserted (benchmarks measure that); what is asserted is that hostile input
cannot make the responder drop, mix up or fail a good request.
"""

import asyncio
import base64
from typing import Any

import pytest

from contracts.errors import SERVICE_ERROR_CODE_HEADER
from tests.services.query.conftest import Answer, Ask
from tests.services.query.stored import connection, entity, insert

pytestmark = pytest.mark.integration

HOSTILE: list[tuple[str, bytes]] = [
    ("entities.list", b'{"limit": 1000000000}'),
    ("entities.search", b'{"text": "a", "limit": 100000}'),
    ("graph.traverse", b'{"startId": "e0", "direction": "both", "depth": 1000}'),
    ("entities.get", b'{"id": {"$where": "sleep(100000)"}}'),
    ("events.list", b'{"metadata": {"status": {"$regex": "^(a+)+$"}}}'),
    ("entities.search", b'{"text": {"$regex": ".*"}}'),
    ("connections.list", b'{"fromEntityId": ["e0"], "protocol": {"$ne": null}}'),
    ("entities.list", b'{"createdAfter": "0", "includeDeleted": "yes"}'),
    ("stats.counts", b'{"collection": "entities", "groupBy": "$name"}'),
    ("entities.list", b'{"cursor": "' + base64.urlsafe_b64encode(b'{"k": {"$gt": 0}}') + b'"}'),
    ("entities.get", b"\xff\xfe\x00 garbage"),
    ("entities.get", b"[" * 200_000),
    ("events.list", b'{"metadata":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001),
    ("entities.get", b"x" * 200_000),
    ("entities.drop", b"{}"),
]


async def test_hostile_bursts_never_cost_a_good_request(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(
        query_db,
        "entities",
        *(entity(tenant, f"e{n}", name=f"Name {n}", created=n) for n in range(20)),
    )
    await insert(query_db, "connections", connection(tenant, "c1", "e0", "e1"))

    async def good(n: int) -> None:
        entity_id = f"e{n % 20}"
        got = await ask("entities.get", {"id": entity_id})
        assert got.data["id"] == entity_id
        found = await ask("entities.search", {"text": f"name {n % 20}"})
        assert found.data["items"][0]["id"] == entity_id
        walk = await ask("graph.traverse", {"startId": "e0", "direction": "out", "depth": 2})
        assert [edge["id"] for edge in walk.data["edges"]] == ["c1"]

    async def hostile(name: str, body: bytes) -> Answer:
        return await ask(name, raw=body)

    requests: list[Any] = []
    for round_ in range(10):
        requests += [hostile(name, body) for name, body in HOSTILE]
        requests += [good(round_ * 5 + n) for n in range(5)]
    outcomes = await asyncio.gather(*requests)

    refused = [outcome for outcome in outcomes if isinstance(outcome, Answer)]
    assert len(refused) == 10 * len(HOSTILE)
    for answer in refused:
        assert answer.error["code"] == "invalid_request", answer.body
        assert answer.headers[SERVICE_ERROR_CODE_HEADER] == "400"
    # And afterwards the responder answers as before.
    assert (await ask("entities.get", {"id": "e3"})).data["name"] == "Name 3"
