"""Operators can see what ingest did: written and dead-lettered messages are counted."""

import json

import nats.aio.client
import pytest

from services.runtime.service import OneBusService
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


def sample(bus: OneBusService, name: str, labels: dict[str, str]) -> float:
    return bus.metrics_registry.get_sample_value(name, labels) or 0.0


async def test_written_and_dead_lettered_messages_are_counted(
    bus: OneBusService, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    written = {"kind": "events", "outcome": "written"}
    dead = {"kind": "events", "outcome": "dead_lettered"}
    before = (
        sample(bus, "one_bus_ingest_messages_total", written),
        sample(bus, "one_bus_ingest_messages_total", dead),
        sample(bus, "one_bus_dead_letters_total", {"reason": "malformed_json"}),
    )
    js = nats_client.jetstream()
    event = {"id": "e1", "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}}
    await js.publish(f"one.v1.{tenant}.events.user_login", json.dumps(event).encode())
    await js.publish(f"one.v1.{tenant}.events.user_login", b"{broken")

    async def counted() -> tuple[float, float, float]:
        return (
            sample(bus, "one_bus_ingest_messages_total", written),
            sample(bus, "one_bus_ingest_messages_total", dead),
            sample(bus, "one_bus_dead_letters_total", {"reason": "malformed_json"}),
        )

    after = await eventually(
        counted, lambda now: all(a > b for a, b in zip(now, before, strict=True))
    )
    # At least: the session's service may still be finishing other tests' messages.
    assert all(a - b >= 1 for a, b in zip(after, before, strict=True))
    assert sample(bus, "one_bus_ingest_batch_seconds_count", {}) > 0
