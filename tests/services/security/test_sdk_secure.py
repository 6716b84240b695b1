"""The SDK (one_bus) with the specs `tenant add` prints: a publisher publishes and
queries, a subscriber follows and replays its changes, all under the tenant's permissions."""

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from one_bus.client import OneClient
from services.runtime.secure_dev import SecureStack
from services.security.layout import write_role_specs
from services.security.roles import Role
from tests.fixtures.secure import Connection, TenantSpecs, connect

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]


async def test_the_sdk_works_within_a_tenants_permissions(acme: TenantSpecs) -> None:
    async with (
        OneClient("acme", acme.publisher) as publisher,
        OneClient("acme", acme.subscriber) as subscriber,
    ):
        live = await subscriber.subscribe("changes", collection="entities").start()
        entity_id, published = await publisher.upsert_entity(
            type="creator", name="Ada", actor_id="u"
        )
        assert published.stream == "ONE_INGEST_acme"  # the per-tenant layout
        change = await live.next(wait_s=15)
        assert change.change.record["id"] == entity_id
        await live.close()
        # Replay from the stream's start: the same change, filtered to this tenant.
        async with subscriber.subscribe("changes", start_seq=1) as replay:
            seen = [await replay.next(wait_s=15)]
            while seen[-1].change.record.get("id") != entity_id:
                seen.append(await replay.next(wait_s=15))
        assert {c.change.record["groupId"] for c in seen} == {"acme"}
        entity = await publisher.get_entity(entity_id)
        assert entity.name == "Ada"


async def test_a_spec_file_of_tenant_add_is_all_the_sdk_needs(
    acme: TenantSpecs, tmp_path: Path
) -> None:
    """The tenant comes from the spec: no second place to name it, none to get wrong."""
    answer = {"tenant": "acme", "publisher": acme.publisher.model_dump(exclude_none=True)}
    [path] = write_role_specs(tmp_path, answer)
    async with OneClient.from_spec_file(path) as one:
        assert one.tenant == "acme"
        entity_id, published = await one.upsert_entity(
            type="creator", name="Ada", actor_id="u", wait=True
        )
        assert published.outcome is not None
        assert published.outcome.effect == "created"
        assert (await one.get_entity(entity_id)).name == "Ada"
    async with OneClient(acme.publisher) as one:
        assert (await one.get_entity(entity_id)).groupId == "acme"


async def test_dead_letters_are_the_tenants_and_the_operators(
    secure_stack: SecureStack, acme: TenantSpecs
) -> None:
    async with (
        OneClient("acme", acme.publisher) as publisher,
        OneClient("acme", acme.subscriber) as subscriber,
        OneClient("acme", secure_stack.layout.service_spec(Role.OPERATOR)) as operator,
    ):
        body = f'{{"broken {uuid.uuid4().hex}'.encode()
        await publisher.publish_raw("one.v1.acme.entities.creator.upsert", body)
        for reader in (subscriber, operator):
            async with reader.dead_letters(start_seq=1) as letters:
                letter = await letters.next(wait_s=15)
                while letter.data != body:
                    letter = await letters.next(wait_s=15)


async def test_a_tenant_watches_within_its_permissions_and_pushes_stay_in_its_inbox(
    acme: TenantSpecs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    entity_id = f"w-{uuid.uuid4().hex[:8]}"
    async with OneClient("acme", acme.publisher) as publisher:
        results = publisher.watch("entities.get", {"id": entity_id})
        async with results:
            iterator = aiter(results)
            assert await anext(iterator) is None  # not there yet
            await publisher.upsert_entity(id=entity_id, type="creator", name="Ada", actor_id="u")
            pushed = await asyncio.wait_for(anext(iterator), 15)
            assert pushed["id"] == entity_id

    # A watch of acme may not push into beta's inbox, whatever acme asks.
    asker = await connect(acme.publisher)
    connections.append(asker)
    beta_inbox = f"{beta.publisher.inbox_prefix}.stolen"
    reply = await asker.client.request(
        "one.v1.acme.watch.entities.get",
        json.dumps({"id": entity_id, "deliverTo": beta_inbox}).encode(),
        timeout=10,
    )
    assert json.loads(reply.data)["error"]["code"] == "invalid_request"
