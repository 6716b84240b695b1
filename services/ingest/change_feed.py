"""Publishing what was persisted on `one.v1.<tenant>.changes.<collection>.<type>`.

A batch's changes are published back to back, each asking for its JetStream
acknowledgement on the batch's own reply subject; one subscription of the connection
receives every acknowledgement, and one deadline covers the whole batch (as nats.go's
`PublishAsync` does). A request per change (`JetStreamContext.publish`) costs a task, a
future, a timer and a parsed `PubAck` for each: on events that was a quarter of ingest's
CPU. `publish` still returns only once JetStream has stored every change of the batch,
so a message is acked only after its changes are durable.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

from contracts.nats_headers import HEADER_MSG_ID
from services.store.stored_change import StoredChange
from services.tracing import current_trace_headers

# How the server says no stream takes the subject (a status header, no body).
_NO_RESPONDERS = "503"


class ChangeTooLargeError(Exception):
    """A change is larger than the server's max payload: publishing it would close the
    connection. Not an outage: the message it came from is isolated and dead-lettered."""


@dataclass(slots=True)
class _Batch:
    unacknowledged: int
    stored: asyncio.Future[None]


class ChangeFeed:
    def __init__(self, client: NatsClient, timeout_s: float, max_payload: int) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._max_payload = max_payload
        # `<inbox>.` once the acknowledgements' subscription exists; batches add a token.
        self._reply_prefix: str | None = None
        self._subscribing = asyncio.Lock()
        self._batches: dict[str, _Batch] = {}
        self._next_batch = 0

    async def publish(self, changes: Sequence[StoredChange]) -> None:
        """Publish all changes and wait for JetStream to store them; raise on failure:
        `ChangeTooLargeError` before anything is sent, a NATS error (refused, no stream,
        no acknowledgement within the timeout) otherwise."""
        if not changes:
            return
        payloads = [change.payload() for change in changes]
        for change, payload in zip(changes, payloads, strict=True):
            if len(payload) + len(change.msg_id) + 64 > self._max_payload:
                raise ChangeTooLargeError(
                    f"the change of {change.document['_id']} is {len(payload)} bytes; "
                    f"the server's max payload is {self._max_payload}"
                )
        # Subscribers continue the ingest batch's trace (see services/tracing.py).
        trace_headers = current_trace_headers()
        reply = await self._reply_subject()
        batch = _Batch(len(changes), asyncio.get_running_loop().create_future())
        self._batches[reply] = batch
        try:
            for change, payload in zip(changes, payloads, strict=True):
                await self._client.publish(
                    change.subject,
                    payload,
                    reply=reply,
                    headers={HEADER_MSG_ID: change.msg_id, **trace_headers},
                )
            try:
                await asyncio.wait_for(batch.stored, self._timeout_s)
            except TimeoutError:
                raise NatsTimeoutError from None
        finally:
            del self._batches[reply]
            if not batch.stored.done():
                batch.stored.cancel()
            elif not batch.stored.cancelled():
                # A refusal that came while a publish failed is not logged as unretrieved.
                batch.stored.exception()

    async def _reply_subject(self) -> str:
        """A reply subject no other batch of this connection uses."""
        async with self._subscribing:
            if self._reply_prefix is None:
                prefix = f"{self._client.new_inbox()}."
                await self._client.subscribe(f"{prefix}*", cb=self._acknowledged)
                self._reply_prefix = prefix
        self._next_batch += 1
        return f"{self._reply_prefix}{self._next_batch}"

    async def _acknowledged(self, msg: Msg) -> None:
        batch = self._batches.get(msg.subject)
        if batch is None or batch.stored.done():
            # Late: its batch failed or timed out already and is published again.
            return
        refusal = _refusal(msg)
        if refusal is not None:
            batch.stored.set_exception(refusal)
            return
        batch.unacknowledged -= 1
        if batch.unacknowledged == 0:
            batch.stored.set_result(None)


def _refusal(msg: Msg) -> NatsError | None:
    """Why JetStream did not store the change `msg` answers, or None if it did."""
    if msg.headers and msg.headers.get(Header.STATUS.value) == _NO_RESPONDERS:
        return NoStreamResponseError()
    # A stored change's acknowledgement is `{"stream":…,"seq":…}`; only a refusal has an
    # `error`, so the acknowledgements of stored ones need no parsing.
    if b'"error"' not in msg.data and b'"seq"' in msg.data:
        return None
    try:
        error = json.loads(msg.data)["error"]
        APIError.from_error(error)
    except APIError as refused:
        return refused
    except (ValueError, KeyError, TypeError):
        pass
    return NatsError(f"not a JetStream acknowledgement: {msg.data[:200]!r}")
