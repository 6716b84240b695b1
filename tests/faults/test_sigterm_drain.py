"""SIGTERM drains: the batch in hand is written and acked, nothing more is fetched, the
process exits 0 within the drain timeout, and nothing was acked that was not written."""

import asyncio

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.checker import acked_but_not_written
from tests.faults.scenario import Scenario
from tests.faults.workload import generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_sigterm_mid_ingest_drains_exits_0_and_acks_only_what_was_written(
    own_servers: EmbeddedServers,
) -> None:
    workload = generate(seed=7)
    async with Scenario(
        "SIGTERM mid-ingest, then restart",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        publishing = asyncio.create_task(publisher.publish(workload.messages))
        ingest = await scenario.start_ingest()
        await scenario.until_ingested(int(workload.distinct * 0.4))
        await scenario.until_in_flight()

        exit_code = await ingest.terminate(within_s=scenario.settings.drain_timeout_s + 5)
        assert exit_code == 0, ingest.log_tail()
        floor = await scenario.ack_floor()
        unwritten = await acked_but_not_written(
            scenario.database, publisher.log.by_seq, floor, await scenario.dead_letters()
        )
        assert floor > 0
        assert unwritten == []

        await scenario.start_ingest()
        await publishing
        comparison = await scenario.settle(publisher)
    assert comparison.exact, comparison.explain()
