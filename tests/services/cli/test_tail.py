"""`one-bus tail`: replaying and following changes, events and dead letters."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus import OneClient
from services.cli.tail import parse_since
from tests.services.cli.command import one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


async def test_tail_since_replays_a_readable_line_per_change(nats_url: str, tenant: str) -> None:
    async with OneClient(tenant, ConnectionSpec(servers=[nats_url])) as one:
        await one.upsert_entity(type="creator", name="Ada Lovelace", actor_id="u1", id="ada")

    ran = await one_bus("tail", "changes", "-t", tenant, "--since", "5m", "--limit", "2",
                        nats_url=nats_url)  # fmt: skip

    assert ran.code == 0, ran.err
    # What it follows is said on stderr, at once: stdout holds only the changes.
    assert ran.err.startswith(f"following one.v1.{tenant}.changes.*.* since ")
    lines = ran.out.splitlines()
    assert len(lines) == 2
    entity_line = next(line for line in lines if "entities.creator" in line)
    assert "upsert" in entity_line
    assert "Ada Lovelace" in entity_line


@pytest.mark.parametrize("what", ["events", "one.v1.{tenant}.events", "changes.events.>"])
async def test_tail_events_as_json_lines(nats_url: str, tenant: str, what: str) -> None:
    async with OneClient(tenant, ConnectionSpec(servers=[nats_url])) as one:
        await one.upsert_entity(type="creator", name="Ada", actor_id="u1", id="ada")

    ran = await one_bus("tail", what.format(tenant=tenant), "-t", tenant, "--since", "5m",
                        "--limit", "1", "--json", nats_url=nats_url)  # fmt: skip

    assert ran.code == 0, ran.err
    event = json.loads(ran.out)
    assert (event["collection"], event["record"]["type"]) == ("events", "entity_created")
    assert event["seq"] >= 1


async def test_tail_dlq_shows_the_reason(nats_url: str, tenant: str) -> None:
    async with OneClient(tenant, ConnectionSpec(servers=[nats_url])) as one:
        await one.publish_raw("tags.set", b'{"entityId": 1}')

    ran = await one_bus("tail", "dlq", "-t", tenant, "--since", "5m", "--limit", "1", "--json",
                        nats_url=nats_url)  # fmt: skip

    assert ran.code == 0, ran.err
    letter = json.loads(ran.out)
    assert (letter["reason"], letter["originalSubject"]) == (
        "invalid_payload",
        f"one.v1.{tenant}.tags.set",
    )


async def test_tail_refuses_what_it_cannot_follow(nats_url: str) -> None:
    ran = await one_bus("tail", "queries", "-t", "acme", nats_url=nats_url)
    assert ran.code == 2
    assert "expected changes" in ran.err


def test_since_takes_durations_iso_times_and_epoch_ms() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_since("10m", now) == now - timedelta(minutes=10)
    assert parse_since("2026-01-01T11:00:00", now) == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert parse_since("1767268800000", now) == datetime(2026, 1, 1, 12, tzinfo=UTC)
