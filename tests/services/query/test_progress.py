"""The progress mark `after` waits on, with a fake JetStream (the composition root passes
it in): concurrent waiters share each read of the ack floor, nobody polls once nobody
waits, and a sequence already reached costs no read."""

import asyncio
from types import SimpleNamespace
from typing import cast

import pytest
from nats.js import JetStreamContext

from services.query.progress import IngestProgress
from services.settings import Settings


class Floors:
    """consumer_info whose ack floor grows by one per read."""

    def __init__(self) -> None:
        self.reads = 0

    async def consumer_info(self, stream: str, durable: str) -> SimpleNamespace:
        self.reads += 1
        # Always more to come: the floor is all that tells progress.
        return SimpleNamespace(
            ack_floor=SimpleNamespace(stream_seq=self.reads), num_pending=1, num_ack_pending=0
        )


def progress(floors: Floors) -> IngestProgress:
    return IngestProgress(cast(JetStreamContext, floors), Settings(after_poll_s=0.001))


async def test_concurrent_waiters_share_each_read_of_the_floor() -> None:
    floors = Floors()
    marks = progress(floors)
    deadline = asyncio.get_running_loop().time() + 30
    await asyncio.gather(*(marks.wait_for("acme", 1 + n % 3, deadline) for n in range(60)))
    # Floors 1, 2, 3 released everyone: three reads for sixty waiters.
    assert floors.reads == 3
    # Reached already: no read at all; and no poller is left running.
    await marks.wait_for("acme", 2, deadline)
    assert floors.reads == 3
    await asyncio.sleep(0.01)
    assert floors.reads == 3


async def test_a_waiter_past_its_deadline_times_out_and_stops_the_polling() -> None:
    floors = Floors()
    marks = progress(floors)
    deadline = asyncio.get_running_loop().time() + 0.05
    with pytest.raises(TimeoutError):
        await marks.wait_for("acme", 10**9, deadline)
    reads = floors.reads
    await asyncio.sleep(0.02)
    assert floors.reads <= reads + 1  # at most the read in flight when it gave up
    assert marks.floor("acme") >= 1
