"""Per-tenant quotas where every process finds them: the `ONE_TENANTS` KV bucket.

`one-bus tenant add/set` writes a tenant's own quotas (`put_quotas`); services follow the
bucket (`TenantDirectory`) and answer `quotas(tenant)` from memory, so a check on the hot
path (a query arriving, a watch starting) costs no round trip. A tenant with no entry,
and every field an entry leaves out, takes the deployment's defaults (`ONE_TENANT_*`).
"""

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from contracts.nats_headers import is_kv_deletion
from contracts.subjects import TENANTS_BUCKET, is_tenant, kv_subject
from contracts.tenancy import TenantQuotas

log = logging.getLogger(__name__)


async def tenants_bucket(js: JetStreamContext, replicas: int = 1, declare: bool = True) -> KeyValue:
    """The bucket, created on first use when `declare` (history 1: only the current value
    of each tenant matters)."""
    try:
        return await js.key_value(TENANTS_BUCKET)
    except BucketNotFoundError:
        if not declare:
            raise
        return await js.create_key_value(
            KeyValueConfig(
                bucket=TENANTS_BUCKET,
                description="ONE Bus tenants: their own quotas",
                history=1,
                storage=StorageType.FILE,
                replicas=replicas,
            )
        )


async def put_quotas(kv: KeyValue, tenant: str, quotas: TenantQuotas) -> None:
    if not is_tenant(tenant):
        raise ValueError(f"{tenant!r} is not a tenant token")
    await kv.put(tenant, quotas.model_dump_json(exclude_none=True).encode())


async def read_quotas(kv: KeyValue, tenant: str) -> TenantQuotas | None:
    """The tenant's own quotas as stored (None: it has no entry)."""
    try:
        entry = await kv.get(tenant)
    except KeyNotFoundError:
        return None
    return None if entry.value is None else TenantQuotas.model_validate_json(entry.value)


async def delete_quotas(kv: KeyValue, tenant: str) -> None:
    """Forget the tenant's entry entirely (a purge leaves no history behind)."""
    try:
        await kv.purge(tenant)
    except KeyNotFoundError:
        return


class TenantDirectory:
    """Every tenant's quotas, kept current from the bucket; `quotas()` never waits."""

    def __init__(self, js: JetStreamContext, defaults: TenantQuotas) -> None:
        self._js = js
        self._defaults = defaults
        self._own: dict[str, TenantQuotas] = {}
        self._subscription: JetStreamContext.PushSubscription | None = None
        # Set once every entry the bucket held at start() is in memory.
        self.loaded = asyncio.Event()

    def quotas(self, tenant: str) -> TenantQuotas:
        """The tenant's quotas, every field filled (its own over the defaults)."""
        own = self._own.get(tenant)
        return self._defaults if own is None else own.over(self._defaults)

    async def start(self, kv: KeyValue) -> None:
        prefix = kv_subject(TENANTS_BUCKET, "")

        async def arrived(msg: Msg) -> None:
            tenant = msg.subject[len(prefix) :]
            if is_kv_deletion(msg.headers):
                self._own.pop(tenant, None)
            else:
                try:
                    self._own[tenant] = TenantQuotas.model_validate_json(msg.data)
                except ValidationError as error:
                    # Written by something other than `tenant add/set`: keep the
                    # defaults for that tenant rather than stop following.
                    log.warning("ignoring quotas of tenant %r: %s", tenant, error)
                    self._own.pop(tenant, None)
            if msg.metadata.num_pending == 0:
                self.loaded.set()

        status = await kv.status()
        if status.values == 0:
            self.loaded.set()
        self._subscription = await self._js.subscribe(
            f"{prefix}>",
            cb=arrived,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()
