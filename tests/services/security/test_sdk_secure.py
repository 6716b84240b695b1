"""The SDK (one_bus) with the specs `tenant add` prints: a publisher publishes and
queries, a subscriber follows and replays its changes, all under the tenant's permissions."""

import uuid

import pytest

from one_bus.client import OneClient
from services.security.roles import Role
from services.security.secure_dev import SecureStack
from tests.fixtures.secure import TenantSpecs

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
        assert published.stream == "ONE_INGEST"
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
