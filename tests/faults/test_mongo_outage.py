"""Scenario 2: the MongoDB server is stopped for several seconds during ingest, then restarted.

Every write fails while it is down. That is a transient failure, not bad input: the
batches are nak'ed with backoff and retried until the store is back, and not one message
may reach the DLQ for it (the DLQ must hold exactly the poison messages).
"""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

OUTAGE_S = 6


async def test_a_store_outage_is_retried_and_never_dead_lettered(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=2)
    async with Scenario(
        f"MongoDB stopped for {OUTAGE_S} s",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        ingest = await scenario.start_ingest()
        await scenario.until_ingested(int(workload.distinct * 0.3))
        await scenario.until_in_flight()
        await own_servers.stop_mongo()
        await asyncio.sleep(OUTAGE_S)  # the outage itself: publishing goes on meanwhile
        await own_servers.start_mongo()
        await publishing
        comparison = await scenario.settle(publisher)
    assert comparison.exact, comparison.explain()
    assert "store unavailable" in ingest.log_text()  # the outage was met, and retried
    reasons = {letter.headers["One-Dlq-Reason"] for letter in comparison.dead_letters}
    assert "store_rejected" not in reasons
