"""Permission violations as errors of the call that was waiting, not as timeouts.

nats-server answers a refused publish or subscribe with an asynchronous `-ERR`, not a
reply: a request then waits for its timeout, a JetStream publish for its acks, a consumer
for a creation that never comes. The connection's error callback hands each violation to
`Denials.report`, which fails every call waiting in `Denials.guard` at once with the
`NotAllowedError`. The server does not say which request it refused, only the subject:
with several calls in flight on one connection, each of them is failed (a denied
identity is misconfigured, and one clear error beats a wait that ends the same way).
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from one_bus.errors import NotAllowedError, not_allowed

T = TypeVar("T")


class Denials:
    def __init__(self) -> None:
        # Each waiting call, and the subject it uses if it said (else "").
        self._waiting: dict[asyncio.Future[NotAllowedError], str] = {}

    def report(self, error: BaseException) -> NotAllowedError | None:
        """Fail every guarded call if `error` is a permission violation; returns it."""
        denial = not_allowed(error)
        if denial is not None:
            # nats-py lower-cases the server's text: a waiting call's own subject gives
            # the refused one back its case.
            named = {subject.lower(): subject for subject in self._waiting.values() if subject}
            if denial.subject in named:
                denial = NotAllowedError(denial.action, named[denial.subject])
            for waiter in self._waiting:
                if not waiter.done():
                    waiter.set_result(denial)
        return denial

    async def guard(self, work: Awaitable[T], *, subject: str = "") -> T:
        """`work`'s result, or the `NotAllowedError` reported while it ran (`work` is
        then cancelled). `subject`: the one `work` publishes to, if known."""
        denied: asyncio.Future[NotAllowedError] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(work)
        self._waiting[denied] = subject
        try:
            await asyncio.wait((task, denied), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            self._waiting.pop(denied, None)
        if not denied.done():
            return task.result()
        # A fresh exception per waiter: one instance raised in several tasks would share
        # (and mix up) its traceback.
        denial = NotAllowedError(denied.result().action, denied.result().subject)
        if not task.done():
            task.cancel()
            # Let it finish cancelling (its own cleanup) before the caller goes on.
            await asyncio.gather(task, return_exceptions=True)
            raise denial
        if task.cancelled() or task.exception() is not None:
            # It failed because of the denial (a timeout right after it, say): say so.
            raise denial
        return task.result()
