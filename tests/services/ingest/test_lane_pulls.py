"""A lane's pull requests, against a fake connection: one request out at a time, renewed
when it ends, none while closing; what arrives goes to the fair queue."""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from services.ingest.lanes import Lane, PullPolicy
from services.settings import Settings

Callback = Callable[[Msg], Awaitable[None]]


@dataclass
class FakeNats:
    published: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    callback: Callback | None = None

    def new_inbox(self) -> str:
        return "_INBOX_SERVICE.ingest.lane1"

    async def subscribe(self, subject: str, cb: Callback) -> object:
        assert subject == "_INBOX_SERVICE.ingest.lane1.*"
        self.callback = cb
        return self

    async def publish(self, subject: str, data: bytes, reply: str) -> None:
        self.published.append((subject, json.loads(data), reply))


@dataclass
class FakeMsg:
    subject: str
    reply: str = ""
    headers: dict[str, str] | None = None


def stored(n: int) -> Msg:
    return cast(Msg, FakeMsg("one.v1.acme.events.x", reply=f"$JS.ACK.ONE_INGEST.c.1.{n}.1.1.0"))


def status(code: str, request: int, description: str = "") -> Msg:
    headers = {"Status": code, "Description": description}
    return cast(Msg, FakeMsg(f"_INBOX_SERVICE.ingest.lane1.{request}", headers=headers))


@dataclass
class Harness:
    nats: FakeNats
    lane: Lane
    delivered: list[Msg]
    gone: list[Lane]
    queued: dict[str, int]

    async def arrive(self, msg: Msg) -> None:
        assert self.nats.callback is not None
        await self.nats.callback(msg)


async def harness() -> Harness:
    nats = FakeNats()
    delivered: list[Msg] = []
    gone: list[Lane] = []
    queued = {"acme": 0}
    lane = Lane(
        cast(NatsClient, nats),
        Settings(),
        "acme",
        PullPolicy(low=4, high=8, expiry_s=30),
        lambda _, msg: delivered.append(msg),
        gone.append,
        lambda tenant: queued[tenant],
    )
    await lane.open()
    return Harness(nats, lane, delivered, gone, queued)


async def test_one_request_at_a_time_for_what_the_lane_has_room_for() -> None:
    h = await harness()
    await h.lane.want(0)
    await h.lane.want(0)
    assert h.nats.published == [
        (
            "$JS.API.CONSUMER.MSG.NEXT.ONE_INGEST.one-bus-ingest_acme",
            {"batch": 8, "expires": 30_000_000_000},
            "_INBOX_SERVICE.ingest.lane1.1",
        )
    ]


async def test_a_fully_delivered_request_is_followed_by_one_for_the_room_left() -> None:
    h = await harness()
    await h.lane.want(0)
    for n in range(8):
        await h.arrive(stored(n))
    assert len(h.delivered) == 8
    await h.lane.want(8)  # queue full: nothing asked
    assert len(h.nats.published) == 1
    await h.lane.want(3)
    assert h.nats.published[-1][1]["batch"] == 5


async def test_an_expired_request_is_renewed_at_once_and_a_stale_status_ignored() -> None:
    h = await harness()
    await h.lane.want(0)
    await h.arrive(status("100", 1))  # heartbeat
    await h.arrive(status("408", 0))  # an earlier request's end
    assert len(h.nats.published) == 1
    await h.arrive(status("408", 1, "Request Timeout"))
    assert [reply for _, _, reply in h.nats.published] == [
        "_INBOX_SERVICE.ingest.lane1.1",
        "_INBOX_SERVICE.ingest.lane1.2",
    ]


async def test_a_request_the_server_ended_is_asked_again_by_the_next_round_only() -> None:
    h = await harness()
    await h.lane.want(0)
    await h.arrive(status("409", 1, "Exceeded MaxWaiting"))
    assert len(h.nats.published) == 1
    await h.lane.want(0)  # what the discovery round does
    assert len(h.nats.published) == 2


async def test_a_deleted_consumer_drops_the_lane_and_asks_nothing_more() -> None:
    h = await harness()
    await h.lane.want(0)
    await h.arrive(status("409", 1, "Consumer Deleted"))
    assert h.gone == [h.lane]
    assert len(h.nats.published) == 1


async def test_a_closing_lane_asks_nothing_but_still_hands_on_what_arrives() -> None:
    h = await harness()
    h.lane.stop_asking()
    await h.lane.want(0)
    assert h.nats.published == []
    await h.arrive(stored(1))
    assert len(h.delivered) == 1


async def test_after_a_reconnect_the_lost_request_is_replaced() -> None:
    h = await harness()
    await h.lane.want(0)
    h.lane.forget_request()
    await h.lane.want(0)
    assert len(h.nats.published) == 2
