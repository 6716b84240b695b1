"""Publishing what was persisted on `one.v1.<tenant>.changes.<collection>.<type>`."""

import asyncio
from collections.abc import Sequence

from nats.js import JetStreamContext

from contracts.nats_headers import HEADER_MSG_ID
from services.store.stored_change import StoredChange
from services.tracing import current_trace_headers


class ChangeTooLargeError(Exception):
    """A change is larger than the server's max payload: publishing it would close the
    connection. Not an outage: the message it came from is isolated and dead-lettered."""


class ChangeFeed:
    def __init__(self, js: JetStreamContext, timeout_s: float, max_payload: int) -> None:
        self._js = js
        self._timeout_s = timeout_s
        self._max_payload = max_payload

    async def publish(self, changes: Sequence[StoredChange]) -> None:
        """Publish all changes and wait for JetStream to store them; raise on failure.

        Concurrently: each publish waits for its own acknowledgement, and a batch can
        carry hundreds of changes.
        """
        payloads = [change.payload() for change in changes]
        # Subscribers continue the ingest batch's trace (see services/tracing.py).
        trace_headers = current_trace_headers()
        for change, payload in zip(changes, payloads, strict=True):
            if len(payload) + len(change.msg_id) + 64 > self._max_payload:
                raise ChangeTooLargeError(
                    f"the change of {change.document['_id']} is {len(payload)} bytes; "
                    f"the server's max payload is {self._max_payload}"
                )
        await asyncio.gather(
            *(
                self._js.publish(
                    change.subject,
                    payload,
                    timeout=self._timeout_s,
                    headers={HEADER_MSG_ID: change.msg_id, **trace_headers},
                )
                for change, payload in zip(changes, payloads, strict=True)
            )
        )
