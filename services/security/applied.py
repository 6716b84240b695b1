"""Waiting until a running nats-server has loaded the users last written (after a reload).

Each written auth.conf has a marker user of its own (layout.py): once the server lets the
marker in, every user in that file is in force, and every user no longer there is out.
"""

import asyncio
from typing import Final

import nats
from nats.errors import Error as NatsError

from contracts.connection_spec import ConnectionSpec
from one_bus.connection import nats_options
from services.security.layout import SecureLayout

_POLL_S: Final = 0.1


async def can_connect(spec: ConnectionSpec) -> bool:
    async def quiet(_: Exception) -> None:
        return None

    try:
        client = await asyncio.wait_for(
            nats.connect(
                **nats_options(spec),
                connect_timeout=2,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=quiet,
            ),
            timeout=5,
        )
    except (OSError, TimeoutError, NatsError):
        return False
    await client.close()
    return True


async def users_applied(layout: SecureLayout, timeout_s: float = 10.0) -> bool:
    """True once the layout's running nats-server has loaded its current users."""
    marker = layout.reload_marker()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if await can_connect(marker):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
