"""The fair queue's policy: lanes take turns, a lone lane fills whole batches."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.fair_queue import FairQueue


def filled(lanes: dict[str, int], quantum: int = 4) -> FairQueue[str, int]:
    queue: FairQueue[str, int] = FairQueue(quantum)
    for lane, count in lanes.items():
        for item in range(count):
            queue.put(lane, item)
    return queue


def test_a_lone_backlog_fills_every_batch() -> None:
    queue = filled({"bulk": 100})
    assert [len(queue.take(32)) for _ in range(4)] == [32, 32, 32, 4]
    assert len(queue) == 0


def test_a_small_lane_is_served_in_the_first_batch_behind_any_backlog() -> None:
    queue = filled({"bulk": 10_000})
    queue.put("small", 0)
    batch = queue.take(32)
    assert ("small", 0) in batch
    assert Counter(lane for lane, _ in batch) == {"bulk": 31, "small": 1}


def test_lanes_with_work_share_a_batch_by_quantum() -> None:
    queue = filled({"a": 100, "b": 100, "c": 100}, quantum=4)
    assert Counter(lane for lane, _ in queue.take(24)) == {"a": 8, "b": 8, "c": 8}


def test_order_within_a_lane_is_kept() -> None:
    queue = filled({"a": 50, "b": 50}, quantum=3)
    taken = [queue.take(7) for _ in range(15)]
    for lane in ("a", "b"):
        assert [item for batch in taken for key, item in batch if key == lane] == list(range(50))


def test_a_visit_cut_short_by_a_full_batch_resumes_without_extra_credit() -> None:
    queue = filled({"a": 100, "b": 100}, quantum=8)
    first = queue.take(5)  # a's visit: 5 of its 8
    second = queue.take(6)  # a's remaining 3, then b
    assert Counter(lane for lane, _ in first) == {"a": 5}
    assert Counter(lane for lane, _ in second) == {"a": 3, "b": 3}


def test_an_idle_lane_saves_no_credit() -> None:
    queue = filled({"a": 1}, quantum=8)
    queue.take(10)
    for item in range(100):
        queue.put("b", item)
    for item in range(100):
        queue.put("a", item)
    assert Counter(lane for lane, _ in queue.take(16)) == {"a": 8, "b": 8}


def test_dropping_a_lane_returns_its_items_and_keeps_the_rest() -> None:
    queue = filled({"a": 3, "b": 2})
    assert queue.drop("a") == [0, 1, 2]
    assert queue.drop("missing") == []
    assert queue.take(10) == [("b", 0), ("b", 1)]
    assert len(queue) == 0


def test_drain_empties_every_lane() -> None:
    queue = filled({"a": 3, "b": 2})
    assert sorted(queue.drain()) == [0, 0, 1, 1, 2]
    assert len(queue) == 0
    assert queue.take(5) == []


def test_quantum_must_be_positive() -> None:
    with pytest.raises(ValueError, match="quantum"):
        FairQueue[str, int](0)


@given(
    st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 40)), max_size=20),
    st.integers(1, 64),
    st.integers(1, 16),
)
def test_nothing_is_lost_or_duplicated_and_every_waiting_lane_is_served(
    puts: list[tuple[str, int]], limit: int, quantum: int
) -> None:
    queue: FairQueue[str, tuple[str, int]] = FairQueue(quantum)
    expected: list[tuple[str, int]] = []
    for lane, count in puts:
        for _ in range(count):
            item = (lane, len(expected))
            expected.append(item)
            queue.put(lane, item)
    taken: list[tuple[str, int]] = []
    while len(queue):
        waiting = {lane for lane in "abcde" if queue.queued(lane)}
        batch = queue.take(limit)
        assert batch
        # Fairness: when the batch has room for a quantum of each waiting lane, each
        # waiting lane is in it.
        if limit >= quantum * len(waiting):
            assert {lane for lane, _ in batch} == waiting
        taken.extend(item for _, item in batch)
    assert sorted(taken) == sorted(expected)
