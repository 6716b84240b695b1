"""One tenant flooding the query side meets its own quota; another tenant is served.

On a ONE Bus of the test's own (real nats-server, real store), with the tenant's
`max_concurrent_queries` set in the ONE_TENANTS bucket as `one-bus tenant set` writes it.
Facts are counts and orders, never durations: the flooding tenant's requests over its
quota are answered `timeout`/overloaded without taking a store slot, and every request
of the other tenant is answered `ok`.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.errors import OVERLOADED
from contracts.subjects import query_subject
from contracts.tenancy import TenantQuotas
from one_bus import OneClient, OverloadedError
from services.runtime.service import OneBusService
from services.runtime.tenant_directory import put_quotas, tenants_bucket
from services.settings import Settings
from services.store.mongodb.indexes import ensure_indexes
from tests.fixtures.waiting import eventually
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

Document = dict[str, Any]
FLOOD = 300
QUOTA = 8


@pytest.fixture
def settings(private_nats_url: str, bus_settings: Settings) -> Settings:
    return bus_settings.model_copy(
        update={
            "nats_url": private_nats_url,
            "mongodb_db": f"one_fair_{uuid.uuid4().hex[:8]}",
            "query_max_concurrency": 4,
            "watch_enabled": False,
        }
    )


@pytest.fixture
async def db(
    settings: Settings, mongo_client: AsyncMongoClient[Document]
) -> AsyncIterator[AsyncDatabase[Document]]:
    database = mongo_client[settings.mongodb_db]
    await ensure_indexes(database)
    yield database
    await mongo_client.drop_database(database.name)


async def ask(client: NatsClient, tenant: str, name: str, request: Document) -> Document:
    reply = await client.request(
        query_subject(tenant, name), json.dumps(request).encode(), timeout=30
    )
    answer: Document = json.loads(reply.data)
    return answer


async def test_a_flooding_tenant_is_refused_over_its_quota_and_another_is_served(
    settings: Settings, db: AsyncDatabase[Document], private_client: NatsClient
) -> None:
    a, b = "flood", "calm"
    await insert(
        db,
        "entities",
        *(entity(a, f"c{n}", properties={"level": f"l{n % 7}"}) for n in range(2_000)),
        entity(b, "b1", name="Bea"),
    )
    kv = await tenants_bucket(private_client.jetstream())
    await put_quotas(kv, a, TenantQuotas(max_concurrent_queries=QUOTA))
    async with OneBusService(settings, ingest=False) as service:
        responder = service.query_responder
        assert responder is not None
        assert service.tenants is not None
        assert service.tenants.quotas(a).max_concurrent_queries == QUOTA

        expensive = {"properties": {"level": "l3"}, "limit": 500}
        flood = [
            asyncio.create_task(ask(private_client, a, "entities.list", expensive))
            for _ in range(FLOOD)
        ]
        calm = []
        for _ in range(10):  # b's gets, one after another, while a's flood is in hand
            calm.append(await ask(private_client, b, "entities.get", {"id": "b1"}))
        flooded = await asyncio.gather(*flood)

        assert [answer["ok"] for answer in calm] == [True] * 10
        assert all(answer["data"]["id"] == "b1" for answer in calm)
        refused = [f for f in flooded if not f["ok"] and f["error"]["details"]]
        served = [f for f in flooded if f["ok"]]
        assert refused, f"{FLOOD} requests at once never met a quota of {QUOTA}"
        for answer in refused:
            assert answer["error"]["code"] == "timeout"
            assert answer["error"]["details"] == {
                "reason": OVERLOADED,
                "scope": "tenant",
                "limit": QUOTA,
            }
        assert all(len(f["data"]["items"]) > 0 for f in served)
        # Refused at once: none of them took a store slot (only the admitted ones did; an
        # admitted one whose deadline passed while it waited for a slot took none either).
        assert len(served) <= responder.store_slots.granted[a] <= FLOOD - len(refused)
        assert responder.store_slots.granted[b] == 10
        assert responder.admission.in_hand() == 0


async def test_a_quota_set_while_running_applies_to_the_next_requests(
    settings: Settings, db: AsyncDatabase[Document], private_client: NatsClient
) -> None:
    tenant = "later"
    await insert(db, "entities", *(entity(tenant, f"c{n}") for n in range(200)))
    kv = await tenants_bucket(private_client.jetstream())
    async with OneBusService(settings, ingest=False) as service:
        directory = service.tenants
        assert directory is not None
        assert directory.quotas(tenant).max_concurrent_queries == 64
        await put_quotas(kv, tenant, TenantQuotas(max_concurrent_queries=1))

        async def quota() -> int | None:
            assert directory is not None
            return directory.quotas(tenant).max_concurrent_queries

        assert await eventually(quota, lambda limit: limit == 1) == 1
        answers = await asyncio.gather(
            *(ask(private_client, tenant, "entities.list", {"limit": 200}) for _ in range(40))
        )
        refused = [a for a in answers if not a["ok"]]
        assert refused
        assert all(a["error"]["details"]["limit"] == 1 for a in refused)
        assert any(a["ok"] for a in answers)

        # The SDK raises the refusal as an OverloadedError (a QueryError, code `timeout`).
        async with OneClient(tenant, settings.nats_url) as one:
            outcomes = await asyncio.gather(
                *(one.query("entities.list", {"limit": 200}) for _ in range(20)),
                return_exceptions=True,
            )
        overloaded = [o for o in outcomes if isinstance(o, OverloadedError)]
        assert overloaded
        assert all(o.code == "timeout" and o.details["scope"] == "tenant" for o in overloaded)
        assert all(isinstance(o, dict | OverloadedError) for o in outcomes), outcomes


async def test_without_the_tenants_bucket_the_defaults_apply_until_it_is_created(
    settings: Settings, db: AsyncDatabase[Document]
) -> None:
    await insert(db, "entities", *(entity("anyone", f"c{n}") for n in range(200)))
    # A query-only replica started before anyone created ONE_TENANTS: defaults, loudly.
    async with OneBusService(
        settings.model_copy(update={"tenant_max_concurrent_queries": 3}), ingest=False
    ) as service:
        assert service.tenants is not None
        assert service.tenants.quotas("anyone").max_concurrent_queries == 3
        client = await nats.connect(settings.nats_url)
        try:
            answers = await asyncio.gather(
                *(ask(client, "anyone", "entities.list", {"limit": 200}) for _ in range(30))
            )
        finally:
            await client.close()
        assert any(not a["ok"] and a["error"]["details"]["limit"] == 3 for a in answers)

        # `tenant add` creates the bucket later: the replica finds it and follows it.
        client = await nats.connect(settings.nats_url)
        try:
            kv = await tenants_bucket(client.jetstream())
            await put_quotas(kv, "anyone", TenantQuotas(max_concurrent_queries=2))
        finally:
            await client.close()

        async def quota() -> int | None:
            assert service.tenants is not None
            return service.tenants.quotas("anyone").max_concurrent_queries

        assert await eventually(quota, lambda limit: limit == 2, timeout_s=30) == 2
