"""Taking work from many lanes in turn: deficit round robin, counted in messages.

Each lane (a tenant) queues what its consumer delivered. Building a batch visits the
lanes that have work in turn; each visit grants a lane `quantum` messages of credit and
takes what the credit covers, so a lane with a backlog of 100,000 takes no more of a
batch than a lane with one message, as long as that one has work. When only one lane
has work, the rounds keep visiting it until the batch is full: a lone backlog still
drains in full batches.

Pure policy, no I/O: the ingest consumer (pull_consumer.py) feeds it and takes batches.
"""

from collections import deque
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class FairQueue(Generic[K, T]):
    def __init__(self, quantum: int) -> None:
        if quantum < 1:
            raise ValueError("quantum must be at least 1")
        self._quantum = quantum
        self._queues: dict[K, deque[T]] = {}
        # Lanes with work, in visiting order; the next visit starts at the front.
        self._active: deque[K] = deque()
        self._deficit: dict[K, int] = {}
        # The lane at the front when a batch filled up mid-visit: the next batch finishes
        # that visit on the credit left, without a new quantum.
        self._resuming: K | None = None
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def lanes_with_work(self) -> int:
        return len(self._active)

    def queued(self, key: K) -> int:
        queue = self._queues.get(key)
        return len(queue) if queue is not None else 0

    def put(self, key: K, item: T) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        if not queue:
            # A lane coming back to work joins the end of the round with no credit saved:
            # an idle lane cannot bank credit and burst later.
            self._active.append(key)
            self._deficit[key] = 0
        queue.append(item)
        self._size += 1

    def take(self, limit: int) -> list[tuple[K, T]]:
        """Up to `limit` items, in deficit-round-robin order across the lanes."""
        taken: list[tuple[K, T]] = []
        while self._active and len(taken) < limit:
            key = self._active[0]
            queue = self._queues[key]
            credit = self._deficit[key]
            if key != self._resuming:
                credit += self._quantum
            self._resuming = None
            while queue and credit >= 1 and len(taken) < limit:
                taken.append((key, queue.popleft()))
                credit -= 1
            if not queue:
                # Emptied: leaves the round, its credit with it.
                self._active.popleft()
                del self._deficit[key]
            elif credit >= 1:
                # The batch filled up mid-visit: the lane keeps its turn and its credit.
                self._deficit[key] = credit
                self._resuming = key
            else:
                self._deficit[key] = 0
                self._active.rotate(-1)
        self._size -= len(taken)
        return taken

    def drop(self, key: K) -> list[T]:
        """Forget a lane (its tenant is gone); returns what it had queued."""
        queue = self._queues.pop(key, deque())
        if key in self._deficit:
            self._active.remove(key)
            del self._deficit[key]
        if self._resuming == key:
            self._resuming = None
        self._size -= len(queue)
        return list(queue)

    def drain(self) -> Iterable[T]:
        """Everything still queued, lane by lane, leaving the queue empty."""
        for key in list(self._queues):
            yield from self.drop(key)
