"""The store is SIGKILLed mid-ingest (4 times) and restarted: an acknowledged write is durable.

Unlike a clean stop, a kill gives the store no chance to flush: a write it acknowledged
but kept only in memory would be gone, while its message was acked and its change
published. Writes ask for `j: true`, and the embedded SecantusDB runs with
`--sync-on-commit`, so nothing acknowledged may be missing afterwards.
"""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_a_store_killed_mid_ingest_loses_nothing_acknowledged(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=9)
    async with Scenario(
        "MongoDB SIGKILLed mid-ingest (4 times), restarted",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        ingest = await scenario.start_ingest()
        for share in (0.2, 0.4, 0.6, 0.8):
            await scenario.until_ingested(int(workload.distinct * share))
            await scenario.until_in_flight()
            own_servers.kill_mongo()
            await own_servers.start_mongo()
        await publishing
        comparison = await scenario.settle(publisher)
        assert ingest.running, ingest.log_tail()
    assert comparison.exact, comparison.explain()
