"""Scenario 6: publishers retry the same messages.

Both deduplication layers are exercised: the whole workload is published a second time
under the same `Nats-Msg-Id`s while ingest runs (the stream's dedupe window acknowledges
each as a duplicate of the original sequence and stores nothing), and, once everything is
stored, a sample is published again under new ids (the stream takes them; the store's
idempotency must absorb them: events and creates once, entity and tag writes ordered by
stream sequence, poison dead-lettered again as the new messages they are).
"""

import asyncio
import random

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import Message, generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]


async def test_retried_publishes_are_stored_once(own_servers: EmbeddedServers) -> None:
    workload = generate(seed=6)
    distinct = list(dict.fromkeys(workload.messages))
    late = [
        Message(m.subject, m.data, m.msg_id + "~late", m.headers, m.poison)
        for m in random.Random(6).sample(distinct, len(distinct) // 6)
    ]
    async with Scenario(
        "publishers retry everything (same ids), then a sample under new ids",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        first = asyncio.create_task(publisher.publish(workload.messages))
        await scenario.start_ingest()
        await scenario.until_ingested(int(workload.distinct * 0.3))
        retry = asyncio.create_task(publisher.publish(workload.messages))
        await asyncio.gather(first, retry)
        assert publisher.log.duplicates >= len(workload.messages)  # the window dropped them
        await scenario.until_ingested(workload.distinct)
        await publisher.publish(late)
        comparison = await scenario.settle(publisher)
    assert comparison.exact, comparison.explain()
