"""Publishing a workload as a careful publisher does: retry until JetStream acknowledges.

Each message is published with its `Nats-Msg-Id` and retried, with the same id, until a
PubAck comes back (a timeout may hide a message that was stored: the retry is then dropped
by the dedupe window and acknowledged with the original sequence). What JetStream
acknowledged is recorded, sequence by message: that is what the service owes the store.
"""

import asyncio
from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from tests.faults.workload import Message


class PublishGaveUpError(RuntimeError):
    """A message was still not acknowledged when the publisher's deadline passed."""


@dataclass
class PublishLog:
    # Every publish call, retries included.
    attempts: int = 0
    # PubAcks saying "duplicate": the stream's dedupe window dropped the publish.
    duplicates: int = 0
    # Message → the stream sequence its PubAck named (one per distinct Nats-Msg-Id).
    acked: dict[Message, int] = field(default_factory=dict)

    @property
    def by_seq(self) -> dict[int, Message]:
        return {seq: message for message, seq in self.acked.items()}


class Publisher:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        in_flight: int = 64,
        ack_timeout_s: float = 3.0,
        give_up_after_s: float = 120.0,
        per_second: float | None = 500.0,
    ) -> None:
        self._js = js
        # Paced like live traffic, so faults land while publishing and ingest both go on.
        self._interval_s = 1 / per_second if per_second else 0.0
        self._slots = asyncio.Semaphore(in_flight)
        self._ack_timeout_s = ack_timeout_s
        self._give_up_after_s = give_up_after_s
        self.log = PublishLog()

    async def publish(self, messages: tuple[Message, ...] | list[Message]) -> None:
        """Publish in order, `in_flight` at a time; return when every one is acknowledged."""
        pending: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        start = loop.time()
        for number, message in enumerate(messages):
            ahead = start + number * self._interval_s - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            await self._slots.acquire()
            task = asyncio.create_task(self._until_acked(message))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def _until_acked(self, message: Message) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after_s
        try:
            while True:
                self.log.attempts += 1
                try:
                    ack = await self._js.publish(
                        message.subject,
                        message.data,
                        timeout=self._ack_timeout_s,
                        headers=message.header_map(),
                    )
                except (NatsError, TimeoutError) as error:
                    if loop.time() > deadline:
                        raise PublishGaveUpError(f"{message.msg_id}: {error!r}") from error
                    await asyncio.sleep(0.2)
                    continue
                self.log.duplicates += bool(ack.duplicate)
                previous = self.log.acked.setdefault(message, ack.seq)
                # The same Nats-Msg-Id is the same stream message, however often published.
                assert previous == ack.seq, (message.msg_id, previous, ack.seq)
                return
        finally:
            self._slots.release()
