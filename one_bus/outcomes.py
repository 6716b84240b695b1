"""The client's inbox for the outcomes of its writes (docs/outcomes.md).

One subscription per client, on `<inbox>.*`: each write that waits gets `<inbox>.<n>` as
its `One-Outcome-To`, so an answer finds its write without any parsing of the body first,
and the first answer for a write is the only one used (a later one, after a redelivery
whose ack was lost, finds nobody waiting).
"""

import asyncio
import itertools
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts.outcomes import OUTCOME, Rejected, Stored
from one_bus.errors import OutcomeTimeoutError


@dataclass(frozen=True, slots=True)
class Published:
    """JetStream's acknowledgement of one publish."""

    subject: str
    msg_id: str
    stream: str
    seq: int
    # The stream already had this `Nats-Msg-Id` (a retry): nothing new was stored.
    duplicate: bool
    # With `wait=True`: what ingest stored (rejections raise `RejectedError`).
    outcome: Stored | None = None


class OutcomeInbox:
    def __init__(self, client: NatsClient) -> None:
        self._client = client
        self._base = client.new_inbox()
        self._tokens = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Stored | Rejected]] = {}
        self._subscription: Subscription | None = None
        self._opening = asyncio.Lock()

    async def expect(self) -> tuple[str, asyncio.Future[Stored | Rejected]]:
        """A new target for one write, and the future its outcome resolves."""
        async with self._opening:
            if self._subscription is None:
                self._subscription = await self._client.subscribe(
                    f"{self._base}.*", cb=self._arrived
                )
        token = str(next(self._tokens))
        future: asyncio.Future[Stored | Rejected] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        return f"{self._base}.{token}", future

    def forget(self, target: str) -> None:
        future = self._waiting.pop(target.rsplit(".", 1)[-1], None)
        if future is not None and not future.done():
            future.cancel()

    async def _arrived(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject.rsplit(".", 1)[-1], None)
        if future is None or future.done():
            return
        try:
            future.set_result(OUTCOME.validate_json(msg.data))
        except ValidationError as error:
            future.set_exception(error)


class PendingOutcome:
    """A write in the stream whose outcome is still to come: `await pending.wait(s)`."""

    def __init__(
        self,
        published: Published,
        answer: "asyncio.Future[Stored | Rejected]",
        inbox: OutcomeInbox | None = None,
        target: str = "",
    ) -> None:
        self.published = published
        self._answer = answer
        self._inbox = inbox
        self._target = target

    async def wait(self, timeout_s: float) -> Stored | Rejected:
        """The outcome; OutcomeTimeoutError (with the sequence) if none came in time."""
        try:
            return await asyncio.wait_for(self._answer, timeout_s)
        except TimeoutError:
            published = self.published
            raise OutcomeTimeoutError(
                published.subject, published.stream, published.seq, timeout_s
            ) from None
        finally:
            self.forget()

    def forget(self) -> None:
        """Stop waiting: an answer arriving later is dropped."""
        if self._inbox is not None:
            self._inbox.forget(self._target)
