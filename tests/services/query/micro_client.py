"""What any NATS micro client does: ask a `$SRV` subject and read every replica's answer."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

Document = dict[str, Any]


async def ask_all(
    client: NatsClient,
    subject: str,
    *,
    until: Callable[[list[Document]], bool],
    timeout_s: float = 10.0,
) -> list[Document]:
    """Publish one request and collect the replies until `until(replies)` (or the timeout).

    Discovery subjects have no queue group: every replica answers, so there is no single
    reply to wait for. The caller asserts on what came back.
    """
    replies: asyncio.Queue[Msg] = asyncio.Queue()

    async def collect(message: Msg) -> None:
        await replies.put(message)

    inbox = client.new_inbox()
    subscription = await client.subscribe(inbox, cb=collect)
    found: list[Document] = []
    try:
        await client.publish(subject, b"", reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not until(found) and loop.time() < deadline:
            try:
                message = await asyncio.wait_for(replies.get(), deadline - loop.time())
            except TimeoutError:
                break
            found.append(json.loads(message.data))
        return found
    finally:
        await subscription.unsubscribe()


async def ask_one(client: NatsClient, subject: str) -> Document:
    reply = await client.request(subject, b"", timeout=10)
    body: Document = json.loads(reply.data)
    return body


def ids(replies: list[Document]) -> set[str]:
    return {reply["id"] for reply in replies}
