"""Scenario 5: two ingest replicas consume one durable consumer together; one is killed.

The replicas split the work (never both the same batch, until a redelivery), write the
same entities side by side (compare-and-swap settles their races), and when one dies the
other takes over what it held once `ack_wait` passes.
"""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_two_replicas_one_killed_store_every_message_exactly_once(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=5)
    async with Scenario(
        "two replicas, one SIGKILLed",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        doomed = await scenario.start_ingest("replica-a")
        await scenario.start_ingest("replica-b")
        await scenario.until_ingested(int(workload.distinct * 0.45))
        await scenario.until_in_flight()
        await doomed.kill()
        await publishing
        comparison = await scenario.settle(publisher)
    assert comparison.exact, comparison.explain()
