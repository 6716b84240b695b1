"""`OneClient.watch`: results as an async iterator, renewal and stop handled by the SDK."""

import asyncio

import pytest

from contracts.queries import EventsList
from one_bus import OneClient, QueryError
from services.runtime.service import OneBusService

pytestmark = [pytest.mark.integration]


async def test_watch_yields_the_result_then_each_new_one_and_stops_on_exit(
    bus: OneBusService, nats_url: str, tenant: str
) -> None:
    async with OneClient(tenant, nats_url) as one:
        results = []
        async with one.watch("events.list", EventsList(actorId="reader")) as watch:
            async for result in watch:
                results.append(result)
                if len(results) == 3:
                    break
                await one.publish_event(
                    type="payment_event", actor_id="reader", metadata={"status": "processed"}
                )
        assert [len(result["items"]) for result in results] == [0, 1, 2]
        assert watch.version >= 3
        assert watch.ended_reason == "stopped"
        assert watch.watch_id is not None
        service = bus.watches
        assert service is not None
        assert watch.watch_id not in service.registry


async def test_the_sdk_renews_the_lease_for_the_caller(
    bus: OneBusService, nats_url: str, tenant: str
) -> None:
    async with OneClient(tenant, nats_url) as one:
        watch = one.watch("events.list", {"actorId": "slow"}, renew_every_s=0.1)
        await watch.start()
        renewals = []
        for _ in range(3):
            await asyncio.sleep(0.15)
            assert watch.watch_id is not None
            found = await bus.watches.bucket.get(watch.watch_id)  # type: ignore[union-attr]
            assert found is not None
            renewals.append(found[0].expiresAtMs)
        await watch.stop()
        assert renewals == sorted(renewals)
        assert renewals[0] < renewals[-1]


async def test_a_refused_watch_raises_the_error(
    bus: OneBusService, nats_url: str, tenant: str
) -> None:
    async with OneClient(tenant, nats_url) as one:
        with pytest.raises(QueryError) as raised:
            async for _ in one.watch("entities.list", {"type": "no_such_type"}):
                pass
        assert raised.value.code == "invalid_request"


async def test_breaking_out_of_a_plain_loop_stops_the_watch(
    bus: OneBusService, nats_url: str, tenant: str
) -> None:
    service = bus.watches
    assert service is not None
    async with OneClient(tenant, nats_url) as one:
        watch = one.watch("events.list", {"actorId": "quitter"})
        async for result in watch:
            assert result == {"items": [], "nextCursor": None}
            assert watch.watch_id in service.registry
            break
        # The abandoned iterator is closed by the event loop, which stops the watch.
        for _ in range(100):
            if watch.watch_id not in service.registry:
                break
            await asyncio.sleep(0.05)
        assert watch.watch_id not in service.registry
        assert watch.ended_reason == "stopped"
