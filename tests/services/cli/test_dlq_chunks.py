"""Bulk replay and purge stop between chunks, never inside one (the policy alone, on
stand-in dead letters: the commands themselves are tested on real servers in
test_dlq.py)."""

import asyncio
from collections.abc import AsyncIterator

from services.cli.dlq import chunk_by_chunk
from services.ingest.dead_letter_box import DeadLetter


def letter(seq: int) -> DeadLetter:
    return DeadLetter(seq, "s", "o", "malformed_json", "", {}, b"", None)


async def chunks(read: list[int]) -> AsyncIterator[list[DeadLetter]]:
    for first in (1, 4, 7):
        read.append(first)  # a chunk is read only when the previous one is done
        yield [letter(first), letter(first + 1), letter(first + 2)]


async def test_a_stop_during_a_chunk_finishes_that_chunk_and_reads_no_other() -> None:
    stop = asyncio.Event()
    read: list[int] = []
    progress: list[int] = []

    async def act(dead: DeadLetter) -> int:
        if dead.seq == 5:  # Ctrl-C while the second chunk is in hand
            stop.set()
        return dead.seq

    done = await chunk_by_chunk(chunks(read), act, stop, progress.append)

    assert done == [1, 2, 3, 4, 5, 6]
    assert read == [1, 4]
    assert progress == [3, 6]


async def test_without_a_stop_every_chunk_is_done() -> None:
    read: list[int] = []

    async def act(dead: DeadLetter) -> int:
        return dead.seq

    done = await chunk_by_chunk(chunks(read), act, asyncio.Event(), lambda _: None)
    assert done == list(range(1, 10))
