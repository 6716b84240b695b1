"""Limits a hostile tenant cannot get around, on a secure stack of the test's own (its
limits are small): watches per asking identity, whatever reply prefix it makes up, and
consumers per tenant on the changes and dead letters."""

import json
from pathlib import Path

import pytest

from services.runtime.secure_dev import secure_servers
from services.runtime.service import OneBusService
from services.security.roles import Role
from tests.fixtures.secure import Connection, add_tenant, connect, service_spec
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

WATCHES_PER_IDENTITY = 3
CONSUMERS_PER_TENANT = 3


async def watch_from(publisher: Connection, tenant: str, prefix: str) -> dict[str, object]:
    """A watch asked with a reply subject and a `deliverTo` under a made-up prefix."""
    inbox = f"{prefix}.{publisher.client.new_inbox().rsplit('.', 1)[-1]}"
    replies = await publisher.client.subscribe(f"{inbox}.r")
    await publisher.client.publish(
        f"one.v1.{tenant}.watch.events.list",
        json.dumps({"actorId": "u", "deliverTo": f"{inbox}.push"}).encode(),
        reply=f"{inbox}.r",
    )
    answer: dict[str, object] = json.loads((await replies.next_msg(timeout=10)).data)
    await replies.unsubscribe()
    return answer


async def create_durable(
    subscriber: Connection, tenant: str, name: str, **extra: object
) -> dict[str, object]:
    config = {"durable_name": name, "filter_subject": f"one.v1.{tenant}.changes.>",
              "ack_policy": "none", **extra}  # fmt: skip
    reply = await subscriber.client.request(
        f"$JS.API.CONSUMER.CREATE.ONE_CHANGES.{name}.one.v1.{tenant}.changes.>",
        json.dumps({"stream_name": "ONE_CHANGES", "config": config}).encode(),
        timeout=5,
    )
    answer: dict[str, object] = json.loads(reply.data)
    return answer


async def test_watch_and_consumer_limits_hold_against_a_hostile_tenant(tmp_path: Path) -> None:
    async with secure_servers(tmp_path) as stack:
        acme = await add_tenant(stack, "acme")
        settings = stack.settings.model_copy(
            update={
                "watch_max_per_connection": WATCHES_PER_IDENTITY,
                "tenant_max_consumers": CONSUMERS_PER_TENANT,
                "consumer_sweep_s": 0.2,
                "consumer_inactive_threshold_s": 120.0,
            }
        )
        async with OneBusService(settings) as bus:
            publisher, subscriber = await connect(acme.publisher), await connect(acme.subscriber)
            operator = await connect(service_spec(stack, Role.OPERATOR))
            try:
                # One identity, a new reply prefix per request: still one asker.
                prefix = acme.publisher.inbox_prefix or ""
                answers = [await watch_from(publisher, "acme", f"{prefix}.v{n}") for n in range(5)]
                assert [a["ok"] for a in answers] == [True] * WATCHES_PER_IDENTITY + [False] * 2
                refused = answers[-1]["error"]
                assert refused["code"] == "limit_exceeded"  # type: ignore[index]

                # Durables beyond the tenant's quota are deleted, the oldest kept; each
                # gets the streams' inactive threshold, and none may ask for longer.
                names = [f"d{n}" for n in range(6)]
                for name in names:
                    created = await create_durable(subscriber, "acme", name)
                    assert created["config"]["inactive_threshold"] == 120 * 10**9  # type: ignore[index]
                longer = await create_durable(
                    subscriber, "acme", "forever", inactive_threshold=10**15
                )
                assert longer["error"]["err_code"] == 10153  # type: ignore[index]
                js = operator.client.jetstream()

                async def acme_consumers() -> list[str]:
                    infos = await js.consumers_info("ONE_CHANGES")
                    return sorted(
                        i.name for i in infos if i.config.filter_subject == "one.v1.acme.changes.>"
                    )

                kept = await eventually(acme_consumers, lambda n: len(n) == CONSUMERS_PER_TENANT)
                assert kept == names[:CONSUMERS_PER_TENANT]
                warden = bus.consumer_warden
                assert warden is not None

                async def deleted() -> int:
                    return warden.deleted

                excess = len(names) - CONSUMERS_PER_TENANT
                assert await eventually(deleted, lambda n: n >= excess) == excess
                # The service's own consumer on the changes (live queries) is untouched.
                every = await js.consumers_info("ONE_CHANGES")
                assert any(i.config.filter_subject == "one.v1.*.changes.>" for i in every)
            finally:
                for connection in (publisher, subscriber, operator):
                    await connection.client.close()
        log = (stack.layout.data_dir / "logs" / "nats.log").read_text()
        assert [line for line in log.splitlines() if "Violation" in line] == []
