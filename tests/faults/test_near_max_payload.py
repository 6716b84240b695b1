"""Messages just under NATS's max payload, amid a live workload.

Their dead letters (body plus reason headers) would not fit the max payload; such a publish
once made nats-server close the service's connection, leaving ingest and every tenant's
queries dead. Now each is dead-lettered cut, saying so, and nothing else is disturbed.
"""

import pytest

from services.runtime.embedded import EmbeddedServers
from tests.faults.scenario import Scenario
from tests.faults.workload import Message, Workload, generate

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

NATS_MAX_PAYLOAD = 1024 * 1024


def with_near_max_messages(workload: Workload, count: int) -> Workload:
    messages = list(workload.messages)
    for n in range(count):
        data = b"x" * (NATS_MAX_PAYLOAD - 200 - 40 * n)
        near_max = Message(
            "one.v1.acme.entities.creator.upsert", data, f"near-max-{n}", poison="oversize"
        )
        messages.insert(len(messages) * (n + 1) // (count + 1), near_max)
    return Workload(tuple(messages), workload.seed)


async def test_near_max_payload_messages_are_dead_lettered_cut_and_nothing_else_stops(
    own_servers: EmbeddedServers,
) -> None:
    workload = with_near_max_messages(generate(seed=10), count=3)
    async with Scenario(
        "3 messages 200 bytes under NATS's max payload",
        [own_servers.nats_url],
        own_servers.mongodb_uri,
        own_servers.data_dir / "logs",
    ) as scenario:
        publisher = scenario.publisher()
        ingest = await scenario.start_ingest()
        await publisher.publish(workload.messages)
        comparison = await scenario.settle(publisher)
        answer = await scenario.query("acme", "entities.get", {"id": "nobody"})
        assert answer["error"]["code"] == "not_found"  # queries are still answered
        assert ingest.running, ingest.log_tail()
    assert comparison.exact, comparison.explain()
    cut = [m for m in comparison.dead_letters if "One-Dlq-Payload-Cut" in m.headers]
    assert len(cut) == 3
