"""Watches on the session's ONE Bus (real nats-server and SecantusDB): the first result is
the plain query's, and every change that alters it is pushed, and nothing else is."""

import asyncio
import json
from typing import Any

from nats.aio.client import Client as NatsClient

from contracts.subjects import query_subject
from one_bus import OneClient
from services.runtime.service import OneBusService
from services.watch.service import WatchService
from tests.fixtures.waiting import eventually
from tests.services.watch.conftest import WatcherFactory


async def plain(client: NatsClient, tenant: str, name: str, request: dict[str, Any]) -> Any:
    """What the plain query answers now (`data`, or the error body)."""
    msg = await client.request(
        query_subject(tenant, name), json.dumps(request).encode(), timeout=10
    )
    body = json.loads(msg.data)
    return body["data"] if body["ok"] else body["error"]


async def stored(
    client: NatsClient, tenant: str, name: str, request: dict[str, Any], n: int
) -> None:
    """Wait until a list query shows `n` items."""
    result = await eventually(
        lambda: plain(client, tenant, name, request), lambda r: len(r.get("items", [])) == n
    )
    assert len(result["items"]) == n, result


def ids(message: dict[str, Any]) -> list[str]:
    return [item["id"] for item in message["result"]["items"]]


def watches(bus: OneBusService) -> WatchService:
    assert bus.watches is not None
    return bus.watches


async def test_first_result_then_pushes_on_insert_update_and_delete(
    bus: OneBusService, nats_url: str, nats_client: NatsClient, tenant: str, watcher: WatcherFactory
) -> None:
    request = {"type": "creator"}
    async with OneClient(tenant, nats_url) as one:
        await one.upsert_entity(id="ada", type="creator", name="Ada", actor_id="admin")
        await stored(nats_client, tenant, "entities.list", request, 1)
        watch = await watcher(tenant)
        data = (await watch.start("entities.list", request))["data"]
        assert data["version"] == 1
        assert data["leaseS"] == bus.settings.watch_lease_s
        assert data["result"] == await plain(nats_client, tenant, "entities.list", request)

        await one.upsert_entity(id="bob", type="creator", name="Bob", actor_id="admin")
        inserted = await watch.until(lambda m: ids(m) == ["bob", "ada"])
        assert inserted["watchId"] == data["watchId"]
        assert inserted["result"] == await plain(nats_client, tenant, "entities.list", request)

        await one.upsert_entity(id="bob", type="creator", name="Robert", actor_id="admin")
        updated = await watch.until(lambda m: m["result"]["items"][0]["name"] == "Robert")
        assert updated["version"] > inserted["version"]

        await one.delete_entity("ada", type="creator", actor_id="admin")
        deleted = await watch.until(lambda m: ids(m) == ["bob"])
        assert deleted["version"] > updated["version"]
        assert deleted["result"] == await plain(nats_client, tenant, "entities.list", request)
        versions = [m["version"] for m in watch.messages]
        assert versions == sorted(set(versions)), "versions strictly increase"


async def test_only_changes_inside_the_filters_and_the_tenant_are_pushed_and_read(
    bus: OneBusService, nats_url: str, nats_client: NatsClient, tenant: str, watcher: WatcherFactory
) -> None:
    other_tenant = f"{tenant}x"
    request = {"type": "creator", "status": "active"}
    watch = await watcher(tenant)
    data = (await watch.start("entities.list", request))["data"]
    assert data["result"] == {"items": [], "nextCursor": None}
    service = watches(bus)
    reads = service.evaluator.reads
    async with OneClient(tenant, nats_url) as one, OneClient(other_tenant, nats_url) as other:
        # Another tenant, another type, another status: none can change the result.
        await other.upsert_entity(id="c1", type="creator", name="C", status="active", actor_id="a")
        await one.upsert_entity(id="p1", type="blog_post", name="P", status="active", actor_id="a")
        await one.upsert_entity(id="c2", type="creator", name="D", status="draft", actor_id="a")
        await one.upsert_entity(id="c3", type="creator", name="E", status="active", actor_id="a")
        # Changes are matched in stream order: once c3's push is here, the three before it
        # (and their audit events) were matched too, and cost nothing.
        pushed = await watch.until(lambda m: ids(m) == ["c3"])
        assert watch.messages == [pushed], "an unrelated change was pushed"
        assert service.evaluator.reads == reads + 1, "an unrelated change cost a store read"
        assert all(item["groupId"] == tenant for item in pushed["result"]["items"])
        assert pushed["result"] == await plain(nats_client, tenant, "entities.list", request)
        # The draft entering the filter is a change of the result too.
        await one.upsert_entity(id="c2", type="creator", name="D", status="active", actor_id="a")
        assert ids(await watch.until(lambda m: len(m["result"]["items"]) == 2)) == ["c3", "c2"]


async def test_a_burst_of_changes_is_coalesced_into_a_few_pushes(
    bus: OneBusService, nats_url: str, nats_client: NatsClient, tenant: str, watcher: WatcherFactory
) -> None:
    watch = await watcher(tenant)
    await watch.start("events.list", {"actorId": "burster", "limit": 100})
    burst = 60
    async with OneClient(tenant, nats_url) as one:
        await asyncio.gather(
            *(
                one.publish_event(
                    type="payment_event",
                    actor_id="burster",
                    metadata={"status": "processed", "n": n},
                    timestamp=1_000 + n,
                )
                for n in range(burst)
            )
        )
    last = await watch.until(lambda m: len(m["result"]["items"]) == burst)
    assert last["result"] == await plain(
        nats_client, tenant, "events.list", {"actorId": "burster", "limit": 100}
    )
    assert len(watch.messages) < burst / 3, f"{len(watch.messages)} pushes for {burst} changes"
    assert await watch.quiet(0.3) == [], "the last push is the current result"


async def test_get_watches_an_entity_before_it_exists_and_after_it_is_gone(
    bus: OneBusService, nats_url: str, tenant: str, watcher: WatcherFactory
) -> None:
    watch = await watcher(tenant)
    assert (await watch.start("entities.get", {"id": "soon", "type": "creator"}))["data"][
        "result"
    ] is None
    async with OneClient(tenant, nats_url) as one:
        await one.upsert_entity(id="other", type="creator", name="Other", actor_id="a")
        await one.upsert_entity(id="soon", type="creator", name="Soon", actor_id="a")
        arrived = await watch.until(lambda m: m["result"] is not None)
        assert arrived["result"]["id"] == "soon"
        await one.delete_entity("soon", type="creator", actor_id="a")
        gone = await watch.until(lambda m: m["result"] is None)
        assert gone["version"] > arrived["version"]
    assert all(m["result"] is None or m["result"]["id"] == "soon" for m in watch.messages)


async def test_connections_with_entities_follow_the_entities_they_embed(
    bus: OneBusService, nats_url: str, tenant: str, watcher: WatcherFactory
) -> None:
    watch = await watcher(tenant)
    request = {"fromEntityId": "ada", "withEntities": True}
    await watch.start("connections.list", request)
    async with OneClient(tenant, nats_url) as one:
        await one.create_connection(from_id="ada", to_id="post", relationship_type="owns", id="o1")
        linked = await watch.until(lambda m: len(m["result"]["items"]) == 1)
        assert linked["result"]["items"][0]["toEntity"] is None
        await one.upsert_entity(id="post", type="blog_post", name="Engines", actor_id="ada")
        embedded = await watch.until(lambda m: m["result"]["items"][0]["toEntity"] is not None)
        assert embedded["result"]["items"][0]["toEntity"]["name"] == "Engines"
        await one.delete_connection("o1", relationship_type="owns")
        await watch.until(lambda m: m["result"]["items"] == [])


async def test_tags_and_search_are_watchable(
    bus: OneBusService, nats_url: str, tenant: str, watcher: WatcherFactory
) -> None:
    tags, search = await watcher(tenant), await watcher(tenant)
    await tags.start("tags.list", {"key": "topic", "value": "ai"})
    await search.start("entities.search", {"text": "lovel"})
    async with OneClient(tenant, nats_url) as one:
        await one.set_tag("e1", "topic", "ai")
        await one.set_tag("e2", "topic", "art")
        tagged = await tags.until(lambda m: len(m["result"]["items"]) == 1)
        assert tagged["result"]["items"][0]["entityId"] == "e1"
        await one.delete_tag("e1", "topic", "ai")
        await tags.until(lambda m: m["result"]["items"] == [])

        await one.upsert_entity(id="ada", type="creator", name="Ada Lovelace", actor_id="a")
        found = await search.until(lambda m: len(m["result"]["items"]) == 1)
        assert found["result"]["items"][0]["id"] == "ada"


async def test_stop_ends_the_watch_with_a_last_message(
    bus: OneBusService, nats_url: str, tenant: str, watcher: WatcherFactory
) -> None:
    watch = await watcher(tenant)
    await watch.start("events.list", {"actorId": "stopper"})
    stopped = await watch.ask(["watch", "stop"][1], {"watchId": watch.watch_id})
    assert stopped == {"ok": True, "data": {"watchId": watch.watch_id, "stopped": True}}
    assert await watch.next() == {"watchId": watch.watch_id, "ended": True, "reason": "stopped"}
    async with OneClient(tenant, nats_url) as one:
        await one.publish_event(
            type="payment_event", actor_id="stopper", metadata={"status": "processed"}
        )
    assert await watch.quiet(0.5) == []
    renewed = await watch.ask("renew", {"watchId": watch.watch_id})
    assert renewed["error"]["code"] == "not_found"
    # Another tenant cannot renew or stop a watch, even knowing its id.
    other = await watcher(f"{tenant}x")
    live = await watcher(tenant)
    await live.start("events.list", {"actorId": "x"})
    assert (await other.ask("stop", {"watchId": live.watch_id}))["error"]["code"] == "not_found"
    assert (await live.ask("renew", {"watchId": live.watch_id}))["ok"] is True


async def test_invalid_watch_requests_are_refused(
    bus: OneBusService, tenant: str, watcher: WatcherFactory
) -> None:
    watch = await watcher(tenant)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("entities.list", {"type": "creator"}),  # no deliverTo
        ("entities.list", {"type": "creator", "deliverTo": "_INBOX.*"}),
        ("entities.list", {"type": "creator", "deliverTo": "one.v1.acme.entities.x.upsert"}),
        ("entities.list", {"type": "nope", "deliverTo": "_INBOX.a.b"}),
        ("entities.list", {"cursor": "abc", "deliverTo": "_INBOX.a.b"}),
        (
            "graph.traverse",
            {"startId": "a", "direction": "out", "depth": 1, "deliverTo": "_INBOX.a"},
        ),
        ("renew", {"watchId": {"$gt": ""}}),
    ]
    for name, body in cases:
        answer = await watch.ask(name, body)
        assert answer["ok"] is False, (name, body)
        assert answer["error"]["code"] == "invalid_request", (name, body, answer)
