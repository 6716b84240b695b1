"""Following changes (no servers): a change marks the watches it may alter, and one
landing while a read runs is checked again against the new result; the changes are
followed only while a watch or a read needs them."""

from typing import cast

from nats.js import JetStreamContext

from contracts.queries import EntitiesList
from services.watch.changes import ChangeFollower
from services.watch.evaluator import query_key
from services.watch.matcher import page_edge, result_keys
from services.watch.registry import Registry, Watched
from tests.services.watch.fakes import FakeChanges


def creators(watch_id: str, tenant: str = "acme") -> Watched:
    request = EntitiesList(type="creator")
    return Watched(
        watch_id, tenant, "entities.list", request, "_INBOX.x",
        query_key(tenant, "entities.list", request),
    )  # fmt: skip


def creator(id: str) -> dict[str, object]:
    return {"id": id, "groupId": "acme", "type": "creator", "name": id, "properties": {},
            "createdAt": 10, "updatedAt": 10}  # fmt: skip


def test_a_change_marks_the_watches_of_its_tenant_it_may_alter() -> None:
    registry = Registry()
    registry.add(creators("mine"))
    registry.add(creators("theirs", tenant="globex"))
    marked: list[str] = []
    ChangeFollower(registry, marked.append, lambda: None).changed("acme", "entities", creator("a"))
    assert marked == ["mine"]


def test_a_change_during_a_read_is_noted_for_its_tenant_and_rechecked_after() -> None:
    registry = Registry()
    watch = creators("w")
    registry.add(watch)
    marked: list[str] = []
    follower = ChangeFollower(registry, marked.append, lambda: None)
    with follower.noting("acme") as noted, follower.noting("globex") as other:
        follower.changed("acme", "entities", creator("a"))
    assert noted == [("entities", creator("a"))]
    assert other == []
    # The new result holds the record: the change that landed during the read may be
    # older than what the read saw, so the watch is read again.
    marked.clear()
    result = {"items": [creator("a")], "nextCursor": None}
    registry.set_result(
        watch,
        result_keys("entities.list", watch.request, result),
        page_edge("entities.list", watch.request, result),
    )
    follower.recheck(watch, noted)
    assert marked == ["w"]
    follower.recheck(watch, [])
    assert marked == ["w"]


def opened(registry: Registry, marked: list[str]) -> tuple[ChangeFollower, FakeChanges]:
    changes = FakeChanges()
    follower = ChangeFollower(registry, marked.append, lambda: None)
    follower.open(cast(JetStreamContext, changes), "CHANGES")
    return follower, changes


async def test_nothing_is_followed_until_asked_and_once_however_often_asked() -> None:
    registry = Registry()
    follower, changes = opened(registry, [])
    await follower.keep_up()
    assert (follower.following, changes.subscribed) == (False, 0)

    registry.add(creators("w"))
    await follower.follow()
    await follower.follow()
    assert (follower.following, changes.subscribed) == (True, 1)


async def test_the_changes_are_dropped_once_no_watch_and_no_read_needs_them() -> None:
    registry = Registry()
    follower, changes = opened(registry, [])
    registry.add(creators("w"))
    await follower.follow()
    registry.remove("w")
    with follower.noting("acme"):
        await follower.keep_up()  # a read in flight still needs them
        assert changes.unsubscribed == 0

    await follower.keep_up()

    assert (follower.following, changes.unsubscribed) == (False, 1)


async def test_watches_held_without_the_changes_are_followed_and_all_read_again() -> None:
    registry = Registry()
    marked: list[str] = []
    follower, changes = opened(registry, marked)
    registry.add(creators("a"))
    registry.add(creators("b"))  # as if the follow of a claim had failed

    await follower.keep_up()

    assert (follower.following, changes.subscribed) == (True, 1)
    assert sorted(marked) == ["a", "b"]
