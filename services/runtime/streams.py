"""Declaring the JetStream streams ONE Bus uses, idempotently.

A stream that already exists with a different configuration is left as it is, with a
warning: operators may manage streams themselves, and the service must not fight them.
`ONE_DECLARE_STREAMS=false` turns declaration off entirely.
"""

import logging
from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamConsumerLimits,
)
from nats.js.errors import BadRequestError, NotFoundError

from contracts.subjects import (
    CHANGES_WILDCARD,
    DLQ_WILDCARD,
    INGEST_WILDCARDS,
    tenant_ingest_stream,
)
from contracts.tenancy import TenantQuotas, tenant_ingest_subjects
from services.settings import Settings

log = logging.getLogger(__name__)

_STREAM_NAME_IN_USE = 10058
_SUBJECTS_OVERLAP = 10065


def stream_configs(settings: Settings) -> list[StreamConfig]:
    """The streams the service declares: in the per-tenant layout the ingest streams are
    each tenant's own (`tenant_stream_config`, declared by `one-bus tenant add`)."""

    def stream(
        name: str,
        subjects: Sequence[str],
        description: str,
        max_age_s: float,
        tenants_consume: bool = False,
    ) -> StreamConfig:
        # Tenants' subscribers create consumers on the changes and their dead letters
        # (services/security/roles.py): bounded in number, and a consumer (durable or
        # not) nobody uses for `consumer_inactive_threshold_s` is deleted by the server.
        config = StreamConfig(
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
        if tenants_consume:
            config.max_consumers = settings.stream_max_consumers
            config.consumer_limits = StreamConsumerLimits(
                inactive_threshold=settings.consumer_inactive_threshold_s
            )
        return config

    shared_ingest = [
        stream(
            settings.ingest_stream,
            INGEST_WILDCARDS,
            "ONE Bus input: records and commands",
            settings.ingest_max_age_s,
        )
    ]
    return [
        *(shared_ingest if settings.ingest_layout == "shared" else []),
        stream(
            settings.changes_stream,
            [CHANGES_WILDCARD],
            "ONE Bus: what was persisted",
            settings.changes_max_age_s,
            tenants_consume=True,
        ),
        stream(
            settings.dlq_stream,
            [DLQ_WILDCARD],
            "ONE Bus: rejected input, with reasons",
            settings.dlq_max_age_s,
            tenants_consume=True,
        ),
    ]


class LayoutMismatchError(Exception):
    """The shared ingest stream cannot exist beside tenants' own (their subjects overlap)."""


async def declare_streams(js: JetStreamContext, settings: Settings) -> None:
    for config in stream_configs(settings):
        try:
            await js.add_stream(config)
        except BadRequestError as error:
            if error.err_code == _SUBJECTS_OVERLAP and config.name == settings.ingest_stream:
                raise LayoutMismatchError(
                    f"stream {config.name} (ONE_INGEST_LAYOUT=shared) overlaps streams of "
                    "tenants of the per-tenant layout on this server: run with "
                    "ONE_INGEST_LAYOUT=per_tenant (docs/tenancy.md)"
                ) from error
            if error.err_code != _STREAM_NAME_IN_USE:
                raise
            log.warning(
                "stream %s exists with another configuration; leaving it as operators set it",
                config.name,
            )


def tenant_stream_config(settings: Settings, tenant: str, quotas: TenantQuotas) -> StreamConfig:
    """A tenant's own ingest stream (per-tenant layout): its duplicate window is its own,
    and its backlog quotas are the stream's limits with `discard: new`, so nats-server
    refuses a publish over quota at once instead of dropping older input.

    Work-queue retention: a message leaves the stream once ingest has acked (or
    dead-lettered) it, so the limits bound the backlog, what waits to be stored, and not
    everything the tenant sent within `ingest_max_age_s`."""
    limits = quotas.over(settings.tenant_defaults)
    return StreamConfig(
        name=tenant_ingest_stream(settings.ingest_stream, tenant),
        description=f"ONE Bus input of tenant {tenant}",
        subjects=tenant_ingest_subjects(tenant),
        retention=RetentionPolicy.WORK_QUEUE,
        discard=DiscardPolicy.NEW,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_s,
        max_age=settings.ingest_max_age_s,
        max_bytes=limits.max_backlog_bytes,
        max_msgs=limits.max_backlog_msgs,
    )


async def declare_tenant_stream(
    js: JetStreamContext, settings: Settings, tenant: str, quotas: TenantQuotas
) -> StreamConfig:
    """Create the tenant's ingest stream, or bring its limits to `quotas`; idempotent."""
    config = tenant_stream_config(settings, tenant, quotas)
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)
    return config


async def delete_tenant_stream(js: JetStreamContext, settings: Settings, tenant: str) -> bool:
    """Delete the tenant's ingest stream (its backlog with it); False if there was none."""
    try:
        return await js.delete_stream(tenant_ingest_stream(settings.ingest_stream, tenant))
    except NotFoundError:
        return False
