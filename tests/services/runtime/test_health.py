"""/healthz, /readyz and /metrics, as a kubelet and Prometheus read them."""

import asyncio
import json
import urllib.error
import urllib.request
import uuid

import pytest

from services.runtime.embedded import EmbeddedServers, free_port
from services.runtime.service import OneBusService
from services.settings import Settings
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


async def get(port: int, path: str) -> tuple[int, bytes]:
    def fetch() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return await asyncio.to_thread(fetch)


def on_port(port: int, nats_server: EmbeddedServers, mongodb_uri: str) -> Settings:
    return Settings(
        nats_url=nats_server.nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"health_{uuid.uuid4().hex[:8]}",
        metrics_port=port,
    )


async def test_probes_follow_the_connection_and_metrics_have_their_own_path(
    private_nats: EmbeddedServers, mongodb_uri: str
) -> None:
    port = free_port()
    settings = on_port(port, private_nats, mongodb_uri)
    async with OneBusService(settings):
        assert await get(port, "/healthz") == (200, b'{"status": "ok"}')
        status, body = await eventually(lambda: get(port, "/readyz"), lambda r: r[0] == 200)
        assert (status, json.loads(body)) == (200, {"ready": True, "failing": {}})
        status, body = await get(port, "/metrics")
        assert status == 200
        assert b"one_bus_ingest_batch_size" in body
        assert (await get(port, "/"))[0] == 404

        await private_nats.stop_nats()
        status, body = await eventually(lambda: get(port, "/readyz"), lambda r: r[0] == 503)
        assert status == 503
        assert json.loads(body)["failing"] == {"nats": "not connected"}
        assert (await get(port, "/healthz"))[0] == 200  # alive: not a reason to restart

        await private_nats.start_nats()
        status, _ = await eventually(
            lambda: get(port, "/readyz"), lambda r: r[0] == 200, timeout_s=30
        )
        assert status == 200


async def test_metric_labels_never_carry_what_a_caller_sends(
    private_nats: EmbeddedServers, mongodb_uri: str
) -> None:
    port = free_port()
    settings = on_port(port, private_nats, mongodb_uri)
    async with OneBusService(settings) as service:
        for n in range(20):
            subject = f"one.v1.madeup{n}.query.entities.get"
            await service.nats.request(subject, b'{"id": "x"}', timeout=5)
            await service.nats.request(f"one.v1.madeup{n}.query.nonsense{n}", b"{}", timeout=5)
        _, body = await get(port, "/metrics")
    assert b"madeup" not in body
    assert b"nonsense" not in body
    series = [line for line in body.decode().splitlines() if line.startswith("one_bus_query")]
    assert any('outcome="not_found",query="entities.get"' in line for line in series)
