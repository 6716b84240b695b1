"""Scenario 1: the ingest process is killed with SIGKILL mid-batch, then restarted.

Whatever it had fetched and not acknowledged comes back after `ack_wait`, after later
messages were written by its successor; whatever it wrote and had not acked yet is written
again. Neither may lose, duplicate or reorder anything in the store.
"""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_sigkill_mid_batch_then_restart_stores_every_message_exactly_once(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=1)
    async with Scenario(
        "ingest SIGKILLed mid-batch (twice)",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        ingest = await scenario.start_ingest()
        for share in (0.3, 0.65):
            await scenario.until_ingested(int(workload.distinct * share))
            await scenario.until_in_flight()
            await ingest.kill()
            ingest = await scenario.start_ingest()
        await publishing
        comparison = await scenario.settle(publisher)
    assert comparison.exact, comparison.explain()
