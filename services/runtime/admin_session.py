"""How the platform owner's commands (`one-bus tenant …`) reach the servers.

NATS as the operator: the operator spec of the data directory's secure layout, unless a
spec is given (`--credentials`); without a secure layout (open `dev`), the given spec,
anonymous. MongoDB as `ONE_MONGODB_URI`/`ONE_MONGODB_USER` say, else where `dev --secure`
last ran it, as the layout's service user. Each failure to connect is one
`TenantAdminError` line, not a traceback.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from contracts.connection_spec import ConnectionSpec
from one_bus.connection import nats_options
from services.runtime.tenants import TenantAdminError
from services.security.layout import SecureLayout
from services.security.roles import Role
from services.settings import Settings
from services.store.errors import StoreError

T = TypeVar("T")
_CONNECT_TIMEOUT_S: Final = 5.0
_API_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class AdminSession:
    client: NatsClient
    js: JetStreamContext
    settings: Settings


def operator_spec(
    layout: SecureLayout, given: ConnectionSpec, *, credentials_given: bool, servers_given: bool
) -> ConnectionSpec:
    """`given` (from --credentials or --nats-url) unless the layout's operator applies."""
    if credentials_given or not layout.secured:
        return given
    spec = layout.service_spec(Role.OPERATOR)
    return spec.model_copy(update={"servers": given.servers}) if servers_given else spec


@asynccontextmanager
async def admin_session(
    spec: ConnectionSpec, settings: Settings | None = None
) -> AsyncIterator[AdminSession]:
    async def quiet(_: Exception) -> None:
        """nats-py logs each failed connect with a traceback; one line is said instead."""

    try:
        client = await asyncio.wait_for(
            nats.connect(
                **nats_options(spec),
                connect_timeout=_CONNECT_TIMEOUT_S,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=quiet,
            ),
            timeout=2 * _CONNECT_TIMEOUT_S,
        )
    except (OSError, TimeoutError, NatsError) as error:
        raise TenantAdminError(
            f"cannot reach NATS at {', '.join(spec.servers)}: {error!r}"
        ) from error
    try:
        js = client.jetstream(timeout=_API_TIMEOUT_S)
        yield AdminSession(client, js, settings or Settings())
    finally:
        await client.close()


async def guarded(work: Awaitable[T]) -> T:
    """`work`, with a server's refusal or absence as one `TenantAdminError` line."""
    try:
        return await work
    except StoreError as error:
        raise TenantAdminError(f"MongoDB: {error}") from error
    except NatsError as error:
        raise TenantAdminError(f"NATS: {error!r}") from error
