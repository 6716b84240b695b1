"""The service declares its streams idempotently and never fights operators' configuration."""

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from services.runtime.embedded import EmbeddedServers
from services.runtime.streams import declare_streams
from services.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def js(tmp_path: Path) -> AsyncIterator[JetStreamContext]:
    """A NATS server of its own: the session's service already owns the real subjects."""
    async with EmbeddedServers(tmp_path) as servers:
        client = await nats.connect(servers.nats_url)
        yield client.jetstream()
        await client.close()


async def test_declaring_twice_is_harmless_and_applies_the_limits(js: JetStreamContext) -> None:
    settings = Settings(duplicate_window_s=30, ingest_max_age_s=3600)
    await declare_streams(js, settings)
    await declare_streams(js, settings)
    names = {info.config.name for info in await js.streams_info()}
    assert names == {"ONE_INGEST", "ONE_CHANGES", "ONE_DLQ"}
    ingest = (await js.stream_info("ONE_INGEST")).config
    assert (ingest.max_age, ingest.duplicate_window) == (3600, 30)
    assert "one.v1.*.entities.>" in (ingest.subjects or [])


async def test_a_stream_operators_configured_differently_is_left_as_it_is(
    js: JetStreamContext,
) -> None:
    await js.add_stream(
        StreamConfig(name="ONE_DLQ", subjects=["one.v1.*.dlq.>"], max_age=60, description="ops")
    )
    await declare_streams(js, Settings())
    dlq = (await js.stream_info("ONE_DLQ")).config
    assert (dlq.max_age, dlq.description) == (60, "ops")
    assert (await js.stream_info("ONE_INGEST")).config.name == "ONE_INGEST"
