"""Publishing what was persisted on `one.v1.<tenant>.changes.<collection>.<type>`."""

import asyncio
from collections.abc import Sequence

from nats.js import JetStreamContext

from services.store.stored_change import StoredChange


class ChangeFeed:
    def __init__(self, js: JetStreamContext, timeout_s: float) -> None:
        self._js = js
        self._timeout_s = timeout_s

    async def publish(self, changes: Sequence[StoredChange]) -> None:
        """Publish all changes and wait for JetStream to store them; raise on failure.

        Concurrently: each publish waits for its own acknowledgement, and a batch can
        carry hundreds of changes.
        """
        await asyncio.gather(
            *(
                self._js.publish(
                    change.subject,
                    change.payload(),
                    timeout=self._timeout_s,
                    headers={"Nats-Msg-Id": change.msg_id},
                )
                for change in changes
            )
        )
