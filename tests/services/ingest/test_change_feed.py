"""A batch's changes are in the changes stream when `ChangeFeed.publish` returns, and any
change JetStream did not store makes it raise: the batch handler acks only after it.

Against a nats-server of the test's own (its streams take the changes subjects).
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError

from contracts.subjects import CHANGES_WILDCARD
from services.ingest.change_feed import ChangeFeed, ChangeTooLargeError
from services.store.stored_change import StoredChange

pytestmark = pytest.mark.integration

STREAM = "CHANGES"
TIMEOUT_S = 2.0


def change(tenant: str, number: int, text: str = "x") -> StoredChange:
    document = {
        "_id": f"{tenant}:ev-{number}",
        "id": f"ev-{number}",
        "groupId": tenant,
        "type": "page_view",
        "text": text,
    }
    return StoredChange.of("events", "page_view", "create", document)


@pytest.fixture
async def feed_client(private_nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(private_nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def js(private_client: NatsClient) -> JetStreamContext:
    js = private_client.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=[CHANGES_WILDCARD]))
    return js


async def stored(js: JetStreamContext) -> list[tuple[str, str, str]]:
    """(subject, Nats-Msg-Id, record id) of every change in the stream, in stream order."""
    info = await js.stream_info(STREAM)
    if not info.state.messages:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(STREAM, seq)
        assert msg.headers is not None
        assert msg.data is not None
        assert msg.subject is not None
        record_id = json.loads(msg.data)["record"]["id"]
        found.append((msg.subject, msg.headers["Nats-Msg-Id"], record_id))
    return found


async def test_every_change_of_a_batch_is_in_the_stream_in_order_when_publish_returns(
    feed_client: NatsClient, js: JetStreamContext
) -> None:
    changes = [change("acme", number) for number in range(300)]

    await ChangeFeed(feed_client, TIMEOUT_S, feed_client.max_payload).publish(changes)

    assert await stored(js) == [(c.subject, c.msg_id, c.document["id"]) for c in changes]


async def test_a_batch_published_again_is_stored_once(
    feed_client: NatsClient, js: JetStreamContext
) -> None:
    feed = ChangeFeed(feed_client, TIMEOUT_S, feed_client.max_payload)
    changes = [change("acme", number) for number in range(20)]

    await feed.publish(changes)
    await feed.publish(changes)

    assert len(await stored(js)) == 20


async def test_batches_in_hand_at_once_each_wait_for_their_own_changes(
    feed_client: NatsClient, js: JetStreamContext
) -> None:
    feed = ChangeFeed(feed_client, TIMEOUT_S, feed_client.max_payload)
    batches = [[change(tenant, number) for number in range(50)] for tenant in ("a", "b", "c")]

    await asyncio.gather(*(feed.publish(batch) for batch in batches))

    assert sorted(await stored(js)) == sorted(
        (c.subject, c.msg_id, c.document["id"]) for batch in batches for c in batch
    )


async def test_a_change_no_stream_takes_fails_the_batch_at_once(
    feed_client: NatsClient, private_client: NatsClient
) -> None:
    feed = ChangeFeed(feed_client, timeout_s=30, max_payload=feed_client.max_payload)
    started = time.monotonic()

    with pytest.raises(NoStreamResponseError):
        await feed.publish([change("acme", 1)])

    assert time.monotonic() - started < 5


async def test_a_change_the_stream_refuses_fails_the_batch(
    feed_client: NatsClient, private_client: NatsClient
) -> None:
    js = private_client.jetstream()
    await js.add_stream(
        StreamConfig(
            name=STREAM, subjects=[CHANGES_WILDCARD], max_msgs=5, discard=DiscardPolicy.NEW
        )
    )
    feed = ChangeFeed(feed_client, TIMEOUT_S, feed_client.max_payload)

    with pytest.raises(APIError):
        await feed.publish([change("acme", number) for number in range(10)])


async def test_a_batch_not_acknowledged_in_time_fails_after_the_timeout(
    feed_client: NatsClient, private_client: NatsClient
) -> None:
    # A plain subscriber and no stream: the server sees interest, so nobody answers.
    await private_client.subscribe(CHANGES_WILDCARD)
    await private_client.flush()
    feed = ChangeFeed(feed_client, timeout_s=0.3, max_payload=feed_client.max_payload)

    with pytest.raises(NatsTimeoutError):
        await feed.publish([change("acme", number) for number in range(5)])


async def test_the_feed_keeps_working_after_a_failed_batch(
    feed_client: NatsClient, private_client: NatsClient
) -> None:
    feed = ChangeFeed(feed_client, TIMEOUT_S, feed_client.max_payload)
    with pytest.raises(NatsError):
        await feed.publish([change("acme", 1)])
    js = private_client.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=[CHANGES_WILDCARD]))

    await feed.publish([change("acme", 2)])

    assert [record_id for *_, record_id in await stored(js)] == ["ev-2"]


async def test_a_change_over_the_max_payload_publishes_nothing_of_its_batch(
    feed_client: NatsClient, js: JetStreamContext
) -> None:
    feed = ChangeFeed(feed_client, TIMEOUT_S, max_payload=2048)

    with pytest.raises(ChangeTooLargeError):
        await feed.publish([change("acme", 1), change("acme", 2, text="x" * 4096)])

    assert await stored(js) == []
