"""The fair-admission policy on its own (plain asyncio, quotas from a fake directory):
who is refused, and in which order waiting tenants are given store slots."""

import asyncio

import pytest

from contracts.errors import OVERLOADED
from contracts.tenancy import TenantQuotas
from services.query.admission import (
    Admission,
    FairSlots,
    OverloadedError,
    query_quota,
    replica_admission,
    watch_quota,
)
from services.settings import Settings


class FakeDirectory:
    """What `TenantDirectory.quotas` answers, set by the test."""

    def __init__(self, defaults: TenantQuotas) -> None:
        self.defaults = defaults
        self.own: dict[str, TenantQuotas] = {}

    def quotas(self, tenant: str) -> TenantQuotas:
        own = self.own.get(tenant)
        return self.defaults if own is None else own.over(self.defaults)


DEFAULTS = TenantQuotas(max_concurrent_queries=3, max_watches=7)


def test_a_tenant_over_its_quota_is_refused_and_another_tenant_is_not() -> None:
    admission = Admission(lambda _tenant: 3, max_pending=100)
    for _ in range(3):
        admission.enter("a")
    with pytest.raises(OverloadedError) as refused:
        admission.enter("a")
    assert refused.value.details == {"reason": OVERLOADED, "scope": "tenant", "limit": 3}
    assert "tenant 'a' has 3 requests in hand" in str(refused.value)
    admission.enter("b")  # b is not a's quota
    assert (admission.in_hand("a"), admission.in_hand("b"), admission.in_hand()) == (3, 1, 4)
    admission.leave("a")
    admission.enter("a")  # a place freed is a place taken
    assert admission.in_hand("a") == 3


def test_the_replicas_own_bound_refuses_whoever_comes_when_it_is_full() -> None:
    admission = Admission(lambda _tenant: 10, max_pending=4)
    for tenant in ("a", "a", "b", "c"):
        admission.enter(tenant)
    with pytest.raises(OverloadedError) as refused:
        admission.enter("d")
    assert refused.value.details == {"reason": OVERLOADED, "scope": "replica", "limit": 4}
    assert admission.in_hand("d") == 0


def test_a_quota_changed_in_the_directory_applies_to_the_next_request() -> None:
    directory = FakeDirectory(DEFAULTS)
    admission = Admission(query_quota(directory.quotas, 64), max_pending=100)
    with admission.holding("a"), admission.holding("a"):
        directory.own["a"] = TenantQuotas(max_concurrent_queries=2)
        with pytest.raises(OverloadedError):
            admission.enter("a")
        directory.own["a"] = TenantQuotas(max_concurrent_queries=5)
        admission.enter("a")
        admission.leave("a")
    assert admission.in_hand() == 0
    assert watch_quota(directory.quotas, 10_000)("a") == 7
    directory.own["b"] = TenantQuotas(max_watches=2)
    assert watch_quota(directory.quotas, 10_000)("b") == 2


def test_leaving_more_than_entered_is_a_bug_said_loudly() -> None:
    admission = Admission(lambda _tenant: 1, max_pending=1)
    with pytest.raises(RuntimeError):
        admission.leave("a")


def test_without_a_directory_every_tenant_has_the_settings_default() -> None:
    settings = Settings(tenant_max_concurrent_queries=2, query_max_pending=5)
    admission = replica_admission(settings)
    admission.enter("a")
    admission.enter("a")
    with pytest.raises(OverloadedError):
        admission.enter("a")


async def _waiters(
    slots: FairSlots, order: list[str], tenants: list[str]
) -> list[asyncio.Task[None]]:
    async def wait(tenant: str, label: str) -> None:
        await slots.acquire(tenant)
        order.append(label)

    tasks = []
    for n, tenant in enumerate(tenants):
        tasks.append(asyncio.create_task(wait(tenant, f"{tenant}{n}")))
        await asyncio.sleep(0)  # queued in this order
    return tasks


async def test_a_tenant_arriving_behind_another_tenants_queue_is_served_next_in_turn() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")  # a holds the only slot
    order: list[str] = []
    tasks = await _waiters(slots, order, ["a"] * 6 + ["b"])
    assert slots.waiting("a") == 6
    assert slots.waiting("b") == 1
    for _ in range(7):
        holder = "a" if not order else order[-1][0]
        slots.release(holder)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    # b waited for one of a's six queued requests, not for all of them.
    assert order == ["a0", "b6", "a1", "a2", "a3", "a4", "a5"]


async def test_three_tenants_take_the_slots_in_turn_and_each_keeps_its_own_order() -> None:
    slots = FairSlots(2)
    await slots.acquire("x")
    await slots.acquire("x")
    holders = ["x", "x"]
    order: list[str] = []
    tasks = await _waiters(slots, order, ["a", "a", "a", "b", "b", "c"])
    while len(order) < 6:
        slots.release(holders.pop(0))  # the longest holder finishes
        await asyncio.sleep(0)
        holders.append(order[-1][0])
    await asyncio.gather(*tasks)
    assert order == ["a0", "b3", "c5", "a1", "b4", "a2"]
    assert slots.free == 0
    assert slots.waiting() == 0


async def test_a_cancelled_waiter_takes_no_slot_and_the_next_one_gets_it() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")
    order: list[str] = []
    tasks = await _waiters(slots, order, ["b", "c"])
    tasks[0].cancel()
    await asyncio.sleep(0)
    slots.release("a")
    await asyncio.gather(tasks[1])
    assert order == ["c1"]
    assert slots.held == {"c": 1}
    assert slots.waiting() == 0
    assert tasks[0].cancelled()


async def test_a_waiter_cancelled_as_its_slot_is_granted_hands_the_slot_on() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")
    order: list[str] = []
    tasks = await _waiters(slots, order, ["b", "c"])
    slots.release("a")  # granted to b, which has not run yet...
    tasks[0].cancel()  # ...and is cancelled before it does
    await asyncio.gather(tasks[1])
    assert order == ["c1"]
    assert slots.held == {"c": 1}
    assert slots.free == 0


async def test_slots_free_and_nobody_waiting_are_taken_at_once() -> None:
    slots = FairSlots(3)
    async with slots.slot("a"), slots.slot("a"), slots.slot("b"):
        assert slots.free == 0
        assert slots.held == {"a": 2, "b": 1}
    assert slots.free == 3
    assert not slots.held
    assert slots.granted == {"a": 2, "b": 1}


async def test_a_tenant_holds_at_most_its_share_even_with_slots_free() -> None:
    slots = FairSlots(3, per_tenant=1)
    await slots.acquire("a")
    order: list[str] = []
    tasks = await _waiters(slots, order, ["a", "a", "b"])
    await asyncio.sleep(0)
    # a's next requests wait for a's own slot; b, arriving after them, is served at once.
    assert order == ["b2"]
    assert slots.free == 1
    assert slots.waiting("a") == 2
    slots.release("a")
    await asyncio.sleep(0)
    assert order == ["b2", "a0"]
    slots.release("b")
    await asyncio.sleep(0)
    assert order == ["b2", "a0"]  # b's slot freed, but a holds its share already
    slots.release("a")
    await asyncio.gather(*tasks)
    assert order == ["b2", "a0", "a1"]
    assert slots.held == {"a": 1}


def test_a_share_is_at_least_one_and_at_most_the_slots() -> None:
    assert FairSlots(4, per_tenant=10).per_tenant == 4
    assert FairSlots(4).per_tenant == 4
    with pytest.raises(ValueError, match="at least one"):
        FairSlots(4, per_tenant=0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_tenant_alone_uses_its_full_share_and_one_slot_once_another_reads() -> None:
    clock = FakeClock()
    slots = FairSlots(8, per_tenant=3, busy_share=1, recent_s=1.0, clock=clock)
    order: list[str] = []
    tasks = await _waiters(slots, order, ["a"] * 5)
    assert slots.held == {"a": 3}  # alone: its full share, the rest wait for its own
    # b reads: granted at once, and a is held to one slot from now on.
    b = await _waiters(slots, order, ["b"])
    await asyncio.gather(*b)
    slots.release("a")
    slots.release("a")
    await asyncio.sleep(0)
    assert slots.held == {"a": 1, "b": 1}
    slots.release("b")  # b has just given its slot back: still there, a stays at one
    slots.release("a")
    await asyncio.sleep(0)
    assert slots.held == {"a": 1}
    # A second without b: a alone again, its full share.
    clock.now += 1.5
    slots.release("a")
    await asyncio.gather(*tasks)
    assert slots.held == {"a": 1}
    assert order == ["a0", "a1", "a2", "b0", "a3", "a4"]


async def test_a_tenant_holding_a_slot_counts_as_reading_however_long_it_holds_it() -> None:
    clock = FakeClock()
    slots = FairSlots(8, per_tenant=3, busy_share=1, recent_s=1.0, clock=clock)
    await slots.acquire("b")  # b's one long read
    clock.now += 10  # long past the window: b still holds its slot
    order: list[str] = []
    tasks = await _waiters(slots, order, ["a"] * 3)
    assert slots.held == {"a": 1, "b": 1}
    slots.release("b")
    clock.now += 10
    slots.release("a")
    await asyncio.gather(*tasks)
    assert slots.held == {"a": 2}  # b gone: a's full share again
