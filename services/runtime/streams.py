"""Declaring the JetStream streams ONE Bus uses, idempotently.

A stream that already exists with a different configuration is left as it is, with a
warning: operators may manage streams themselves, and the service must not fight them.
`ONE_DECLARE_STREAMS=false` turns declaration off entirely.
"""

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from contracts.subjects import CHANGES_WILDCARD, DLQ_WILDCARD, INGEST_WILDCARDS
from services.settings import Settings

log = logging.getLogger(__name__)

_STREAM_NAME_IN_USE = 10058


def stream_configs(settings: Settings) -> list[StreamConfig]:
    def stream(
        name: str, subjects: Sequence[str], description: str, max_age_s: float
    ) -> StreamConfig:
        return StreamConfig(
            name=name,
            description=description,
            subjects=list(subjects),
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            num_replicas=settings.stream_replicas,
            duplicate_window=settings.duplicate_window_s,
            max_age=max_age_s,
        )

    return [
        stream(
            settings.ingest_stream,
            INGEST_WILDCARDS,
            "ONE Bus input: records and commands",
            settings.ingest_max_age_s,
        ),
        stream(
            settings.changes_stream,
            [CHANGES_WILDCARD],
            "ONE Bus: what was persisted",
            settings.changes_max_age_s,
        ),
        stream(
            settings.dlq_stream,
            [DLQ_WILDCARD],
            "ONE Bus: rejected input, with reasons",
            settings.dlq_max_age_s,
        ),
    ]


async def declare_streams(js: JetStreamContext, settings: Settings) -> None:
    for config in stream_configs(settings):
        try:
            await js.add_stream(config)
        except BadRequestError as error:
            if error.err_code != _STREAM_NAME_IN_USE:
                raise
            log.warning(
                "stream %s exists with another configuration; leaving it as operators set it",
                config.name,
            )
