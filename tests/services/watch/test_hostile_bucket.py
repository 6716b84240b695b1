"""The live-query bucket spoilt or flooded (issue: junk written into `$KV.ONE_WATCHES`):
live queries keep working, each bad entry costs one look, and the bucket has limits.

Written here with a plain client on an open nats-server of the test's own, as anything
that got past the reply guard and the responder's permissions would write."""

import functools
import json
import logging

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import KeyValueConfig

from one_bus import OneClient
from services.runtime.service import OneBusService
from services.watch.bucket import WatchBucket
from services.watch.service import WatchService
from tests.fixtures.waiting import eventually
from tests.services.watch.conftest import ServiceFactory, Watcher

BUCKET = "ONE_WATCHES"
JUNK_KEYS = 20_000


def watches(bus: OneBusService) -> WatchService:
    assert bus.watches is not None
    return bus.watches


async def bad_count(bucket: WatchBucket) -> int:
    return bucket.bad.count


def bad_entry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if "invalid entries in KV bucket" in r.getMessage()
    ]


async def test_a_flooded_bucket_without_limits_gets_them_and_live_queries_survive_restarts(
    private_bus: ServiceFactory,
    private_client: NatsClient,
    tenant: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    js = private_client.jetstream()
    # A bucket as an older release declared it: no limits at all.
    kv = await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1))
    for n in range(JUNK_KEYS):
        await private_client.publish(f"$KV.{BUCKET}.w.junk{n}", b"FORGED")
    await private_client.flush()

    async def stored() -> int:
        return int((await kv.status()).values)

    assert await eventually(stored, lambda n: n == JUNK_KEYS) == JUNK_KEYS
    caplog.set_level(logging.WARNING, logger="services.watch.bucket")

    # The second start does not wait for the bucket to be read at all: it serves at once.
    for restart, wait_s in enumerate([5.0, 1e-6]):
        bus = await private_bus(watch_load_wait_s=wait_s)
        watch = Watcher(private_client, tenant)
        reply = await watch.start("events.list", {"actorId": "u"})
        assert reply["ok"] is True, (restart, reply)
        async with OneClient(tenant, private_client.connected_url.geturl()) as one:  # type: ignore[union-attr]
            await one.publish_event(
                type="payment_event", actor_id="u", metadata={"status": "processed"}
            )
            events = 1 + restart
            pushed = await watch.until(lambda m: len(m["result"]["items"]) == events)  # noqa: B023
        assert pushed["watchId"] == watch.watch_id
        await watch.close()
        # Every junk entry is seen once, as absent (loading may go on after serving began).
        seen = functools.partial(bad_count, watches(bus).bucket)
        assert await eventually(seen, lambda n: n >= JUNK_KEYS) == JUNK_KEYS
        assert not any(key.startswith("junk") for key in watches(bus).registry.watches)
        await bus.stop()

    # log10(20,000) + 1 lines per start, not one per entry.
    assert len(bad_entry_lines(caplog)) == 2 * 5
    config = (await js.stream_info(f"KV_{BUCKET}")).config
    assert config.max_msgs_per_subject == 1
    assert (config.max_age or 0) >= 2 * 60
    assert (config.max_bytes or 0) > 0
    assert (config.max_msg_size or 0) > 0


async def test_a_spoilt_watch_record_is_dropped_once_and_the_others_go_on(
    private_bus: ServiceFactory,
    private_client: NatsClient,
    tenant: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = await private_bus()
    caplog.set_level(logging.WARNING, logger="services.watch")
    spoilt, kept = Watcher(private_client, tenant), Watcher(private_client, tenant)
    await spoilt.start("events.list", {"actorId": "u"})
    await kept.start("events.list", {"actorId": "u"})
    aimed = Watcher(private_client, tenant)
    await aimed.start("events.list", {"actorId": "u"})
    kv = await private_client.jetstream().key_value(BUCKET)
    await kv.put(f"w.{spoilt.watch_id}", b'{"watchId": "FORGED"}')
    # A valid record, but pushing where no answer of the service may go.
    record = json.loads((await kv.get(f"w.{aimed.watch_id}")).value or b"")
    trap = f"one.v1.{tenant}.changes.entities.forged"
    await kv.put(f"w.{aimed.watch_id}", json.dumps({**record, "deliverTo": trap}).encode())
    trapped = await private_client.subscribe(trap)

    async with OneClient(tenant, private_client.connected_url.geturl()) as one:  # type: ignore[union-attr]
        for events in range(1, 4):
            await one.publish_event(
                type="payment_event", actor_id="u", metadata={"status": "processed"}
            )
            await kept.until(lambda m: len(m["result"]["items"]) == events)  # noqa: B023
    # The spoilt watches are gone (not retried), renewing them says so, each counted once.
    for gone in (spoilt, aimed):
        assert gone.watch_id not in watches(bus).registry
        renewed = await gone.ask("renew", {"watchId": gone.watch_id})
        assert renewed["error"]["code"] == "not_found"
        assert gone.messages == []
    assert watches(bus).bucket.bad.count == 2 + 2  # each seen on the bucket, each renewal read
    assert trapped.pending_msgs == 0
    assert len(bad_entry_lines(caplog)) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
