"""Each tenant's consumers on the streams it may consume, bounded (`tenant_max_consumers`).

A tenant's subscriber may create consumers on ONE_CHANGES and ONE_DLQ filtered to its own
subjects (services/security/roles.py), and nats-server has no per-tenant bound for that
within one account: only a bound per stream (`max_consumers`, which one tenant could
fill for everyone, the live-query replicas' consumers included) and reaping of unused
ones (the streams' `inactive_threshold`, services/runtime/streams.py). So the service
counts: every `consumer_sweep_s` it lists the consumers of those streams, groups them by
the tenant their filter names, and deletes a tenant's newest beyond its bound, keeping
the ones it has used longest. Consumers filtering across tenants are the service's own
and are left alone. Every replica may sweep; a deletion already done is no error.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError

from contracts.subjects import filter_tenant

log = logging.getLogger(__name__)

_PAGE = 256  # the server's page of a consumer list
_EPOCH = datetime.min.replace(tzinfo=UTC)


def over_quota(consumers: Sequence[ConsumerInfo], quota: Callable[[str], int]) -> list[str]:
    """The names of the consumers beyond their tenant's quota: each tenant's newest."""
    by_tenant: defaultdict[str, list[ConsumerInfo]] = defaultdict(list)
    for consumer in consumers:
        config = consumer.config
        filters = [config.filter_subject] if config.filter_subject else []
        filters += config.filter_subjects or []
        tenants = {filter_tenant(subject) for subject in filters}
        if len(tenants) == 1 and (tenant := tenants.pop()) is not None:
            by_tenant[tenant].append(consumer)
    doomed: list[str] = []
    for tenant, owned in by_tenant.items():
        owned.sort(key=lambda consumer: (consumer.created or _EPOCH, consumer.name))
        doomed += [consumer.name for consumer in owned[quota(tenant) :]]
    return doomed


class ConsumerWarden:
    def __init__(
        self,
        js: JetStreamContext,
        streams: Sequence[str],
        quota: Callable[[str], int],
        every_s: float,
    ) -> None:
        self._js = js
        self._streams = streams
        self._quota = quota
        self._every_s = every_s
        self.deleted = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="one-bus-consumer-warden")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except (NatsError, JetStreamError) as error:
                log.warning("could not count tenants' consumers: %r", error)
            await asyncio.sleep(self._every_s)

    async def sweep(self) -> int:
        """One pass over the streams; the number of consumers deleted."""
        deleted = 0
        for stream in self._streams:
            consumers: list[ConsumerInfo] = []
            while True:
                try:
                    page = await self._js.consumers_info(stream, offset=len(consumers))
                except NotFoundError:
                    break  # not declared yet (ingest declares it)
                consumers += page
                if len(page) < _PAGE:
                    break
            for name in over_quota(consumers, self._quota):
                try:
                    await self._js.delete_consumer(stream, name)
                except NotFoundError:
                    continue  # another replica was first, or it was reaped
                deleted += 1
        if deleted:
            log.warning("deleted %d consumers beyond their tenants' quota", deleted)
        self.deleted += deleted
        return deleted
