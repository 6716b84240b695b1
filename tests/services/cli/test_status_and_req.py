"""`one-bus status` and `one-bus req`, run as users run them."""

import json

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig

from contracts.tenancy import TenantQuotas
from services.runtime.streams import tenant_stream_config
from services.settings import Settings
from tests.services.cli.command import one_bus

pytestmark = pytest.mark.integration


async def test_status_lists_every_per_tenant_ingest_stream_and_its_consumers_lag(
    private_client: NatsClient, private_nats_url: str
) -> None:
    js = private_client.jetstream()
    settings = Settings()
    for tenant in ("acme", "globex"):
        await js.add_stream(tenant_stream_config(settings, tenant, TenantQuotas()))
        await js.add_consumer(
            f"ONE_INGEST_{tenant}",
            ConsumerConfig(durable_name="one-bus-ingest", ack_policy=AckPolicy.EXPLICIT),
        )
    await js.add_stream(name="ONE_DLQ", subjects=["one.v1.*.dlq.>"])
    for n in range(3):
        await js.publish("one.v1.acme.entities.creator.upsert", f"{n}".encode())
    pull = await js.pull_subscribe_bind("one-bus-ingest", stream="ONE_INGEST_acme")
    [first] = await pull.fetch(1, timeout=10)
    await first.ack_sync()

    ran = await one_bus("status", "--json", nats_url=private_nats_url)

    assert ran.code == 0, ran
    streams = {stream["name"]: stream for stream in json.loads(ran.out)["streams"]}
    assert [s["group"] for s in streams.values()] == ["ingest", "ingest", "dlq"]
    acme, globex = streams["ONE_INGEST_acme"], streams["ONE_INGEST_globex"]
    # A tenant's stream is a work queue: the acknowledged message is gone from it.
    assert (acme["messages"], acme["firstSeq"], acme["lastSeq"]) == (2, 2, 3)
    assert acme["consumers"] == [
        {"name": "one-bus-ingest", "pending": 2, "ackPending": 0, "redelivered": 0, "lag": 2}
    ]
    assert globex["messages"] == 0
    assert [c["lag"] for c in globex["consumers"]] == [0]

    table = await one_bus("status", nats_url=private_nats_url)
    assert table.code == 0, table
    rows = [line.split("\t") for line in table.out.splitlines()]
    assert ["stream", "consumer", "pending", "ack pending", "redelivered", "lag"] in rows
    assert ["ONE_INGEST_acme", "one-bus-ingest", "2", "0", "0", "2"] in rows


@pytest.mark.usefixtures("bus")
async def test_req_asks_the_services_discovery_subjects(nats_url: str) -> None:
    ran = await one_bus("req", "$SRV.PING", nats_url=nats_url)
    assert ran.code == 0, ran
    assert json.loads(ran.out)["type"] == "io.nats.micro.v1.ping_response"


@pytest.mark.usefixtures("bus")
async def test_req_prints_headers_with_h_and_one_object_with_json(
    nats_url: str, tenant: str
) -> None:
    subject = f"one.v1.{tenant}.query.entities.get"
    shown = await one_bus("req", subject, '{"id": "nobody"}', "-H", nats_url=nats_url)
    assert shown.code == 0, shown
    head, _, body = shown.out.partition("\n\n")
    assert json.loads(body)["error"]["code"] == "not_found"
    as_json = await one_bus("req", subject, '{"id": "nobody"}', "--json", nats_url=nats_url)
    reply = json.loads(as_json.out)
    assert (reply["subject"], reply["data"]["ok"]) == (subject, False)
    assert isinstance(reply["headers"], dict)
    assert all(": " in line for line in head.splitlines()), head


async def test_req_without_a_responder_is_exit_1(private_nats_url: str) -> None:
    ran = await one_bus("req", "nobody.here", nats_url=private_nats_url)
    assert (ran.code, ran.err.strip()) == (1, "error: no responders on nobody.here")
