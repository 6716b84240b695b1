"""Fresh streams holding a workload: where every ingest benchmark starts."""

import asyncio
import contextlib
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.runtime.streams import declare_streams
from services.settings import Settings

# Publishes awaited together: enough to keep the server busy, few enough to stay in its
# pending limits.
_IN_FLIGHT = 500


async def fresh_streams(js: JetStreamContext, settings: Settings) -> None:
    """Delete ONE Bus's streams if they exist and declare them empty, as ingest would."""
    for stream in (settings.ingest_stream, settings.changes_stream, settings.dlq_stream):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    await declare_streams(js, settings)


async def publish_all(js: JetStreamContext, messages: Iterable[tuple[str, bytes]]) -> None:
    """Publish every (subject, payload), each acknowledged by JetStream."""
    pending = []
    for subject, data in messages:
        pending.append(js.publish(subject, data))
        if len(pending) == _IN_FLIGHT:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
