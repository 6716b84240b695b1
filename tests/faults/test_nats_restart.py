"""Scenario 3: nats-server is restarted during ingest (JetStream on disk).

The service's connection drops and comes back; its pull subscription and its query
responder must survive the restart and go on working. Publishers see timeouts
and retry under the same `Nats-Msg-Id`, so a publish that was stored before its ack was
lost is not stored twice.
"""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_a_nats_restart_mid_ingest_loses_and_duplicates_nothing(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=3)
    async with Scenario(
        "nats-server restarted",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        ingest = await scenario.start_ingest()
        await scenario.until_ingested(int(workload.distinct * 0.4))
        await scenario.until_in_flight()
        await own_servers.stop_nats()
        await own_servers.start_nats()
        await publishing
        comparison = await scenario.settle(publisher)
        assert ingest.running  # the same process, reconnected: not restarted
        # Its query subscriptions came back with the connection: it answers, and right.
        answer = await scenario.query(
            "acme", "stats.counts", {"collection": "events", "groupBy": "type"}
        )
        stored = await scenario.database.events.count_documents({"groupId": "acme"})
    assert comparison.exact, comparison.explain()
    assert answer["ok"], answer
    assert sum(count["count"] for count in answer["data"]["counts"]) == stored > 0
